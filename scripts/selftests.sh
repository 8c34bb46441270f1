#!/usr/bin/env bash
# selftests.sh LTS [TREE]: build the kernel's own TCP zerocopy selftests
# statically from tools/testing/selftests/net/ of LTS's TREE (patched: the
# tree the packages are built from, $OUT/patched/<lts>; pristine: Debian's,
# $OUT/src/<lts>), plus the runner tests/selftests/zc-selftests-run.
#   tcp_mmap      mmap() receive of a TCP stream (client and server)
#   msg_zerocopy  MSG_ZEROCOPY send, plain receive
#   tcp_inq       TCP_INQ control messages
# A program the tree does not have is left out (the runner skips it). One
# change to the source: tcp_mmap's FILE_SZ (32 GiB per connection in every
# line) becomes ZC_SELFTEST_MB (default 256) MiB, so a run fits a qemu boot
# under TCG; the copy that is compiled is kept next to the binary.
# The programs are compiled against this machine's UAPI headers
# (linux-libc-dev), a superset of every line's: the source is the line's own.
# Writes $OUT/selftests/<lts>-<tree>/: the binaries, zc-selftests-run,
# build.log, manifest.json (programs, source sha256, tree).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-} tree=${2:-patched}
load_conf "$lts"
case "$tree" in
patched) src="$OUT/patched/$lts" mark=.zc-series ;;
pristine) src="$OUT/src/$lts" mark=.zc-source ;;
*) die "TREE must be patched or pristine, not '$tree'" ;;
esac
[ -f "$src/$mark" ] || die "no $tree tree for $lts: run 'make ${tree/pristine/source} KERNEL=$lts'"
mb=${ZC_SELFTEST_MB:-256}
[[ $mb =~ ^[0-9]+$ ]] && [ "$mb" -ge 1 ] || die "ZC_SELFTEST_MB must be a number of MiB, not '$mb'"
net="$src/tools/testing/selftests/net"
[ -d "$net" ] || die "$net is missing: the $lts $tree tree has no net selftests"

dest="$OUT/selftests/$lts-$tree"
work="$dest.tmp"
rm -rf "$work"
mkdir -p "$work/src"
cleanup_on_exit "$work"
cc=${CC:-gcc}
# Line-buffered stdout without touching the sources: the runner stops the
# tcp_mmap server with a signal, which would lose a fully buffered report.
printf '%s\n' '#define _GNU_SOURCE' '#include <stdio.h>' \
	'__attribute__((constructor)) static void zc_linebuf(void) { setvbuf(stdout, NULL, _IOLBF, 0); }' \
	>"$work/src/zc-linebuf.h"
built=()
for prog in tcp_mmap msg_zerocopy tcp_inq; do
	[ -f "$net/$prog.c" ] || { log selftests "$lts" "$tree tree has no $prog.c: left out"; continue; }
	cp "$net/$prog.c" "$work/src/$prog.c"
	if [ "$prog" = tcp_mmap ]; then
		grep -q '^#define FILE_SZ ' "$work/src/$prog.c" || die "$net/tcp_mmap.c has no '#define FILE_SZ' line to size the run"
		sed -i "s/^#define FILE_SZ .*/#define FILE_SZ (${mb}ULL << 20) \/* zc-kernel: was 32 GiB *\//" "$work/src/$prog.c"
	fi
	# The selftests' own flags and libraries (tools/testing/selftests/net/Makefile:
	# "$(OUTPUT)/tcp_mmap: LDLIBS += -lpthread -lcrypto" in 6.12), static.
	sed -n "s/^\$(OUTPUT)\/$prog:[[:space:]]*LDLIBS[[:space:]]*+=[[:space:]]*//p" "$net/Makefile" | tr '\n' ' ' |
		sed 's/[[:space:]]*$//' >"$work/src/$prog.ldlibs"
	ldlibs=()
	read -r -a ldlibs <"$work/src/$prog.ldlibs" || true # no newline at its end
	if ! $cc -O2 -Wall -static -pthread -I"$src/tools/testing/selftests" \
		-include "$work/src/zc-linebuf.h" -o "$work/$prog" \
		"$work/src/$prog.c" "${ldlibs[@]}" >>"$work/build.log" 2>&1; then
		tail -n 20 "$work/build.log" >&2
		die "$prog of the $lts $tree tree does not build (log: $dest/build.log)"
	fi
	built+=("$prog")
done
[ "${#built[@]}" -gt 0 ] || die "none of tcp_mmap, msg_zerocopy, tcp_inq in $net"
install -m 0755 "$TOP/tests/selftests/zc-selftests-run" "$work/zc-selftests-run"
{
	printf '{"lts": "%s", "tree": "%s", "tcp_mmap_mb": %s, "programs": [' "$lts" "$tree" "$mb"
	sep=""
	for prog in "${built[@]}"; do
		printf '%s{"name": "%s", "source_sha256": "%s", "ldlibs": "%s"}' "$sep" "$prog" "$(sha256sum "$net/$prog.c" | cut -d' ' -f1)" "$(cat "$work/src/$prog.ldlibs")"
		sep=", "
	done
	printf ']}\n'
} | jq -c . >"$work/manifest.json"
rm -rf "$dest"
mv "$work" "$dest"
log selftests "$lts" "$tree: ${built[*]} built statically in ${dest#"$TOP"/}"
