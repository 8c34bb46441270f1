#!/usr/bin/env bash
# kconfig.sh SRCTREE OBJDIR BASE FRAGMENT...: configure OBJDIR from BASE (a make
# target such as tinyconfig, or a path to a .config) merged with FRAGMENTs by
# the kernel's own scripts/kconfig/merge_config.sh, then olddefconfig; then
# check that every option a fragment asked for is really set as asked. A
# silently dropped option is an error that names it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

src=$1 obj=$2 base=$3
shift 3
mkdir -p "$obj"
src=$(cd "$src" && pwd) obj=$(cd "$obj" && pwd)
kmake=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$src" O="$obj" ARCH=x86_64)

if [ -f "$base" ]; then
	cp "$base" "$obj/.config"
else
	run "${kmake[@]}" "$base" >"$obj/base-config.log" 2>&1 || { cat "$obj/base-config.log" >&2; die "make $base failed"; }
fi
if [ "$#" -gt 0 ]; then
	(cd "$obj" && run env ARCH=x86_64 "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$@" >"$obj/merge_config.log" 2>&1) ||
		die "merge_config.sh failed (see $obj/merge_config.log)"
fi
run "${kmake[@]}" olddefconfig >"$obj/olddefconfig.log" 2>&1 || { cat "$obj/olddefconfig.log" >&2; die "olddefconfig failed"; }

# Every CONFIG_X=v and "# CONFIG_X is not set" of the fragments must hold.
bad=()
for frag in "$@"; do
	fname=${frag##*/}
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			opt=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
			got=$(grep -E "^$opt=" "$obj/.config" | cut -d= -f2- || true)
			[ "$got" = "$want" ] || bad+=("$opt: asked $want in $fname, got ${got:-not set}")
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
			opt=${BASH_REMATCH[1]}
			if grep -qE "^$opt=" "$obj/.config"; then
				bad+=("$opt: asked not set in $fname, got $(grep -E "^$opt=" "$obj/.config" | cut -d= -f2-)")
			fi
		fi
	done <"$frag"
done
if [ "${#bad[@]}" -gt 0 ]; then
	printf 'error: %d option(s) asked for by the profile were dropped or changed by olddefconfig\n' "${#bad[@]}" >&2
	printf '  %s\n' "${bad[@]}" >&2
	echo "Add the options they depend on to the fragment, or drop them from it." >&2
	exit 1
fi
