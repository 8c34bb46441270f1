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
stage_begin "$lts" source
dest="$OUT/src/$lts"
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
	[ -n "$got" ] || die "apt-get download produced no .deb for $CONF_PACKAGE=$CONF_VERSION (see $dl/download.log)"
	verify_sha256 "$got" "$CONF_DEB_SHA256" "downloaded $CONF_PACKAGE $CONF_VERSION"
	mv "$got" "$deb"
fi
verify_sha256 "$deb" "$CONF_DEB_SHA256" "$CONF_PACKAGE $CONF_VERSION (.deb)"

work=$(mktemp -d "$OUT/src/.$lts.XXXXXX")
cleanup_on_exit "$work"
log source "$lts" "extracting $CONF_TARBALL"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./$CONF_TARBALL" ||
	die "$deb does not contain ./$CONF_TARBALL: check TARBALL= in $PATCHES_DIR/$lts/source.conf"
verify_sha256 "$work/$CONF_TARBALL" "$CONF_TARBALL_SHA256" "kernel tarball $CONF_TARBALL inside $(basename "$deb")"

log source "$lts" "unpacking to $dest"
mkdir "$work/tree"
case "$CONF_TARBALL" in
*.xz) decomp=(xz -dc -T0) ;;
*.gz) decomp=(gzip -dc) ;;
*.zst) decomp=(zstd -dc) ;;
*) die "unsupported tarball compression: $CONF_TARBALL" ;;
esac
"${decomp[@]}" "$work/$CONF_TARBALL" | tar -x -C "$work/tree" --strip-components=1 ||
	die "unpacking $CONF_TARBALL failed"
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
