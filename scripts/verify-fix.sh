#!/usr/bin/env bash
# verify-fix.sh TREE: prove from the code of TREE/net/ipv4/tcp.c that the
# short-circuit small reads series (v5.11) is present. Never looks at the
# version number. Each element of the series is checked where it must be:
#   - tcp_recvmsg_locked() exists                       (2cd81161848d)
#   - tcp_zerocopy_receive() returns for inq < PAGE_SIZE
#     with recv_skip_hint = inq, before any VMA lookup  (936ced415751)
#   - tcp_zerocopy_receive() copies through
#     receive_fallback_to_copy() when inq <= copybuf_len,
#     before that fast return and before any VMA lookup (f21a3c480398)
#   - receive_fallback_to_copy() reads with tcp_recvmsg_locked(),
#     reports copybuf_len and sets the zerocopy hint   (0c3936d32f75)
# Exit 0: present; 1: absent (each missing element named); 2: usage/IO error.
set -euo pipefail

tree=${1:-}
[ -n "$tree" ] || { echo "usage: $0 TREE" >&2; exit 2; }
src="$tree/net/ipv4/tcp.c"
[ -r "$src" ] || { echo "error: $src not found: is $tree a kernel tree?" >&2; exit 2; }

# body NAME: the lines of a function definition (not a prototype), from its
# signature to the first closing brace in column 0, each prefixed with its
# line number.
body() {
	awk -v name="$1" '
		!in_fn && $0 ~ "^(static )?(inline )?[a-z].*[ *]" name "\\(" { in_fn = 1; opened = 0; buf = "" }
		in_fn {
			buf = buf NR ": " $0 "\n"
			if ($0 ~ /^{/) opened = 1
			if (!opened && $0 ~ /\);[[:space:]]*$/) { in_fn = 0; next }	# a prototype
			if ($0 ~ /^}/) { printf "%s", buf; exit }
		}
	' "$src"
}

# first_line BODY REGEX: line number of the first body line matching REGEX.
first_line() {
	printf '%s\n' "$1" | grep -E -m1 -- "$2" | cut -d: -f1 || true
}

missing=()
locked=$(body tcp_recvmsg_locked)
[ -n "$locked" ] || missing+=("tcp_recvmsg_locked() is not defined (upstream 2cd81161848d)")

zc=$(body tcp_zerocopy_receive)
[ -n "$zc" ] || { echo "error: tcp_zerocopy_receive() not found in $src" >&2; exit 2; }
vma=$(first_line "$zc" 'mmap_read_lock|find_tcp_vma|find_vma|lock_vma_under_rcu')
copy=$(first_line "$zc" 'if \(inq && inq <= copybuf_len\)')
copy_call=$(first_line "$zc" 'return receive_fallback_to_copy\(')
fast=$(first_line "$zc" 'if \(inq < PAGE_SIZE\)')
hint=$(first_line "$zc" 'recv_skip_hint = inq;')
[ -n "$vma" ] || vma=999999999

if [ -z "$fast" ] || [ -z "$hint" ] || [ "$hint" -lt "$fast" ] || [ "$hint" -gt $((fast + 4)) ]; then
	missing+=("tcp_zerocopy_receive() has no 'inq < PAGE_SIZE' fast return setting recv_skip_hint = inq (upstream 936ced415751)")
elif [ "$fast" -gt "$vma" ]; then
	missing+=("tcp_zerocopy_receive(): the 'inq < PAGE_SIZE' fast return comes after the VMA lookup at line $vma (upstream 936ced415751)")
fi
if [ -z "$copy" ] || [ -z "$copy_call" ] || [ "$copy_call" -ne $((copy + 1)) ]; then
	missing+=("tcp_zerocopy_receive() does not copy through receive_fallback_to_copy() when inq <= copybuf_len (upstream f21a3c480398)")
elif [ "$copy" -gt "$vma" ] || { [ -n "$fast" ] && [ "$copy" -gt "$fast" ]; }; then
	missing+=("tcp_zerocopy_receive(): the copy-buffer short-circuit is not ahead of the fast return and the VMA lookup (upstream f21a3c480398)")
fi

fb=$(body receive_fallback_to_copy)
if [ -z "$fb" ]; then
	missing+=("receive_fallback_to_copy() is not defined (upstream f21a3c480398)")
else
	[ -n "$(first_line "$fb" 'tcp_recvmsg_locked\(')" ] ||
		missing+=("receive_fallback_to_copy() does not read with tcp_recvmsg_locked() (upstream f21a3c480398)")
	[ -n "$(first_line "$fb" 'zc->copybuf_len = err;')" ] ||
		missing+=("receive_fallback_to_copy() does not report the bytes copied in copybuf_len (upstream f21a3c480398)")
	[ -n "$(first_line "$fb" 'tcp_zerocopy_set_hint_for_skb\(')" ] ||
		missing+=("receive_fallback_to_copy() does not set the zerocopy hint (upstream 0c3936d32f75)")
fi

if [ "${#missing[@]}" -gt 0 ]; then
	echo "ABSENT: the short-circuit small reads series is not (fully) in $src:"
	printf '  - %s\n' "${missing[@]}"
	exit 1
fi
echo "PRESENT: short-circuit small reads proven in $src (fallback copy at line $copy, fast return at line $fast, VMA lookup at line $vma)"
