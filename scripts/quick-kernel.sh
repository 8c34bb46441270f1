#!/usr/bin/env bash
# quick-kernel.sh LTS: build the `quick` profile kernel (tinyconfig-based, no
# modules) twice in one build directory: first from the pristine tree, then
# from the patched one. Only the files the series changed are recompiled for
# the second image, so the pair costs one small build plus a few objects.
# Every compile runs with W=1; the patched build must not add a warning that
# the pristine one does not also give (this is `make patch-check`).
#
# Writes $OUT/build/quick/<lts>/: bzImage-pristine, bzImage-patched (or one
# bzImage-patched when the series is empty), warnings-*.txt, patch-check.txt.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-}
load_conf "$lts"
pristine="$OUT/src/$lts"
patched="$OUT/patched/$lts"
base="$OUT/build/quick/$lts"
[ -f "$pristine/.zc-source" ] || die "no pristine tree for $lts: run 'make source KERNEL=$lts'"
[ -f "$patched/.zc-series" ] || die "no patched tree for $lts: run 'make patch KERNEL=$lts'"

mkdir -p "$base"
# One kernel build at a time on this machine, whatever `make -j` runs.
kernel_build_lock "$lts"

jobs=${JOBS:-$(nproc)}
export KBUILD_BUILD_TIMESTAMP="@0" KBUILD_BUILD_USER=zc KBUILD_BUILD_HOST=zc-kernel
# Fresh clones share ccache hits: paths under the project are hashed relative.
export CCACHE_BASEDIR="$TOP"
cc=gcc
if command -v ccache >/dev/null; then cc="ccache gcc"; fi
# The kernel's make must not inherit the caller's make flags (`make -s check`
# would hide the CC lines that are read below, -j would stack).
kmake=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$base/src" O="$base/obj" ARCH=x86_64 "CC=$cc" -j"$jobs" W=1)

# warnings LOG: "file: message [-Wflag]" per warning, line numbers removed, sorted.
warnings() {
	grep -E '^[^ ]+:[0-9]+:[0-9]+: warning:' "$1" |
		sed -E -e 's/^([^:]+):[0-9]+:[0-9]+: /\1: /' -e "s|^$base/src/||" | sort -u || true
}

build() { # build NAME: compile bzImage from $base/src, keep the log and the image
	local name=$1 t0=$SECONDS
	log quick "$lts" "building $name bzImage (W=1, -j$jobs)"
	if ! "${kmake[@]}" bzImage >"$base/build-$name.log" 2>&1; then
		tail -n 30 "$base/build-$name.log" >&2
		die "the $name $lts quick kernel does not build (log: $base/build-$name.log)"
	fi
	cp "$base/obj/arch/x86/boot/bzImage" "$base/bzImage-$name"
	# An incremental build only shows the warnings of what it recompiled: the
	# list accumulates over the life of the object directory.
	warnings "$base/build-$name.log" | sort -u -o "$base/warnings-$name.txt" - "$base/warnings-$name.txt"
	log quick "$lts" "$name bzImage in $((SECONDS - t0)) s, $(wc -l <"$base/warnings-$name.txt") warning(s)"
}

# sync_tree FROM EXCLUDE: make $base/src a copy of FROM and print the files
# whose content changed (by checksum; files new to $base/src are not listed).
# Those are touched: rsync gives them FROM's mtime, which can be older than the
# objects built from the other tree, and make would not rebuild them.
sync_tree() {
	local f list
	# The list is complete only when rsync has exited: it prints a file's line
	# before it renames the file into place and sets its mtime.
	list=$(rsync -a --checksum --delete -i --exclude="$2" "$1" "$base/src/" | awk '$1 ~ /^>f/ && $1 !~ /\+\+\+/ {print $2}')
	while IFS= read -r f; do
		[ -n "$f" ] || continue
		touch "$base/src/$f"
		echo "$f"
	done <<<"$list"
}

want="$(cat "$pristine/.zc-source" "$patched/.zc-series" "$TOP/packaging/configs/quick.config" \
	"$0" "$TOP/scripts/kconfig.sh" | sha256sum | cut -d' ' -f1)"
if [ -f "$base/.done" ] && [ "$(cat "$base/.done")" = "$want" ]; then
	log quick "$lts" "cached: $base"
	exit 0
fi
rm -f "$base/.done"

# 1. pristine: sync the tree (rsync keeps unchanged files' mtimes, so make
#    only rebuilds what really changed), configure, build.
# A new pinned source starts a new object directory (and warning lists).
if [ "$(cat "$base/obj/.zc-source" 2>/dev/null)" != "$(cat "$pristine/.zc-source")" ]; then
	rm -rf "$base/obj" "$base"/warnings-*.txt
	mkdir -p "$base/obj"
	cp "$pristine/.zc-source" "$base/obj/.zc-source"
fi
touch "$base/warnings-pristine.txt" "$base/warnings-patched.txt"
log quick "$lts" "syncing the pristine tree"
sync_tree "$pristine/" /.zc-source >/dev/null
"$TOP/scripts/kconfig.sh" "$base/src" "$base/obj" tinyconfig "$TOP/packaging/configs/quick.config"
build pristine

# 2. patched: sync only what the series changed, rebuild incrementally.
changed=$(sync_tree "$patched/" /.zc-series)
if [ -z "$changed" ]; then
	log quick "$lts" "the series changes no file: the pristine image is the patched one"
	mv "$base/bzImage-pristine" "$base/bzImage-patched"
	echo "empty series: nothing to compare" >"$base/patch-check.txt"
else
	log quick "$lts" "the series changed $(echo "$changed" | wc -l) file(s): $(echo "$changed" | head -n 5 | tr '\n' ' ')"
	build patched
	# The pristine build compiled everything; the patched one only what the
	# series touched. Any warning of the second that the first lacks is new.
	mapfile -t rebuilt < <(grep -E '^  CC ' "$base/build-patched.log" | awk '{print $2}')
	mapfile -t new < <(comm -13 "$base/warnings-pristine.txt" "$base/warnings-patched.txt")
	{
		echo "recompiled after the series: ${#rebuilt[@]} object(s): ${rebuilt[*]}"
		echo "new warnings: ${#new[@]}"
		if [ "${#new[@]}" -gt 0 ]; then printf '  %s\n' "${new[@]}"; fi
	} >"$base/patch-check.txt"
	if [ "${#new[@]}" -gt 0 ]; then
		cat "$base/patch-check.txt" >&2
		die "the series adds ${#new[@]} compiler warning(s) that the pristine $lts tree does not give"
	fi
	log quick "$lts" "patch-check: ${#rebuilt[@]} object(s) recompiled with W=1, no new warning"
fi
echo "$want" >"$base/.done"
