#!/usr/bin/env bash
# source.sh LTS: download the pinned Debian source package of one kernel line,
# verify the .deb and the kernel tarball inside it against source.conf, and
# unpack the tree to $OUT/src/<lts>/.
#
# Cached twice: the .deb in $CACHE_DIR/debs (verified at every use) and the
# unpacked tree, stamped with the sums it came from; a second run with the
# same pins does no download and no unpack. A mismatch is fatal and leaves any
# earlier good tree in place: the new tree is unpacked beside it and swapped in
# only when complete.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-}
load_conf "$lts"
if [ "$SRC_LINE" != "$lts" ]; then
	# A line that borrows another's pristine tree (the control).
	exec "$0" "$SRC_LINE"
fi
need_tools source dpkg-deb tar xz gzip sha256sum flock df apt-get
stage_begin "$lts" source
dest="$OUT/src/$lts"
mkdir -p "$OUT/src"
# One run per line at a time; under the lock, any work directory of this line
# is left over from a run that died (kill -9): it goes first.
stage_lock "$OUT/.locks/source-$lts.lock" "'make source KERNEL=$lts'"
clean_stale "$OUT/src" ".$lts.*" "'make source KERNEL=$lts'"
stamp="$dest/.zc-source"
want_stamp="$CONF_PACKAGE $CONF_VERSION $CONF_DEB_SHA256 $CONF_TARBALL_SHA256"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; then
	log source "$lts" "cached: $dest ($CONF_PACKAGE $CONF_VERSION)"
	stage_end ok "$CONF_VERSION (cached)"
	exit 0
fi

debdir="$CACHE_DIR/debs"
mkdir -p "$debdir" "$OUT/src"
deb="$debdir/${CONF_PACKAGE}_${CONF_VERSION//:/%3a}_all.deb"

if [ -f "$deb" ]; then
	log source "$lts" "using cached $(basename "$deb")"
else
	log source "$lts" "downloading $CONF_PACKAGE=$CONF_VERSION ($CONF_SUITE)"
	dl=$(mktemp -d "$debdir/.dl.XXXXXX")
	cleanup_on_exit "$dl"
	papt_download "$CONF_PACKAGE" "$CONF_VERSION" "$dl"
	got=$(find "$dl" -maxdepth 1 -name "${CONF_PACKAGE}_*.deb" | head -n1)
	[ -n "$got" ] || die "apt-get download produced no .deb for $CONF_PACKAGE=$CONF_VERSION (see $OUT/logs/download-$CONF_PACKAGE.log)"
	verify_sha256 "$got" "$CONF_DEB_SHA256" "downloaded $CONF_PACKAGE $CONF_VERSION"
	mv "$got" "$deb"
fi
verify_sha256 "$deb" "$CONF_DEB_SHA256" "$CONF_PACKAGE $CONF_VERSION (.deb)"

# The tarball inside the .deb is its Installed-Size; the tree about what the
# tarball says it unpacks to. Both must fit before anything is written.
tar_kb=$(dpkg-deb -f "$deb" Installed-Size 2>/dev/null || echo 0)
zc_need_space "$OUT/src" $(((${tar_kb:-0} + 1024) * 1024)) "extracting $CONF_TARBALL from $(basename "$deb")"
work=$(mktemp -d "$OUT/src/.$lts.XXXXXX")
cleanup_on_exit "$work"
log source "$lts" "extracting $CONF_TARBALL"
# tar prints nothing on stdout: its errors go through zc_errfilter (one line
# for a full disk instead of one per file).
if ! { dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./$CONF_TARBALL"; } 2>&1 | zc_errfilter >&2 ||
	[ ! -f "$work/$CONF_TARBALL" ]; then
	zc_die_if_full "$work" "extracting $CONF_TARBALL"
	die "$deb does not contain ./$CONF_TARBALL: check TARBALL= in $PATCHES_DIR/$lts/source.conf"
fi
verify_sha256 "$work/$CONF_TARBALL" "$CONF_TARBALL_SHA256" "kernel tarball $CONF_TARBALL inside $(basename "$deb")"

case "$CONF_TARBALL" in
*.xz) decomp=(xz -dc -T0) tree_bytes=$(xz --robot --list "$work/$CONF_TARBALL" 2>/dev/null | awk '$1 == "totals" { print $5 }') ;;
*.gz) decomp=(gzip -dc) tree_bytes="" ;;
*.zst) need_tools source zstd; decomp=(zstd -dc) tree_bytes="" ;;
*) die "unsupported tarball compression: $CONF_TARBALL" ;;
esac
# gzip -l is wrong above 4 GiB and zstd may not know: then 8 times the tarball.
[ -n "$tree_bytes" ] || tree_bytes=$(($(stat -c %s "$work/$CONF_TARBALL") * 8))
zc_need_space "$OUT/src" $((tree_bytes + tree_bytes / 10)) "unpacking $CONF_TARBALL"
log source "$lts" "unpacking to $dest"
mkdir "$work/tree"
if ! { "${decomp[@]}" "$work/$CONF_TARBALL" | tar -x -C "$work/tree" --strip-components=1; } 2>&1 | zc_errfilter >&2; then
	zc_die_if_full "$work" "unpacking $CONF_TARBALL"
	die "unpacking $CONF_TARBALL failed (see the errors above); nothing was kept"
fi
rm -f "$work/$CONF_TARBALL"
if [ ! -f "$work/tree/Makefile" ] || [ ! -f "$work/tree/net/ipv4/tcp.c" ]; then
	die "$CONF_TARBALL did not unpack to a kernel tree (no Makefile or net/ipv4/tcp.c)"
fi
echo "$want_stamp" >"$work/tree/.zc-source"

# Swap the complete tree in; an earlier tree is only removed after that.
if [ -e "$dest" ]; then
	mv "$dest" "$work/old"
fi
mv "$work/tree" "$dest"
log source "$lts" "ready: $dest ($(make -s -C "$dest" kernelversion 2>/dev/null || echo '?'))"
stage_end ok "$CONF_VERSION"
