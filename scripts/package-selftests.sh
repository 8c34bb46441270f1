#!/usr/bin/env bash
# package-selftests.sh LTS: the zc-selftests-<lts> .deb: the kernel's own
# tcp_mmap, msg_zerocopy and tcp_inq of LTS's patched tree (the tree the
# kernel packages are built from), as scripts/selftests.sh prepares them,
# built statically by dpkg-buildpackage with packaging/deb/zc-selftests/ and
# installed in /usr/lib/zc-kernel/selftests/<line>/ with zc-selftests-run
# (<line>: the upstream line, 5.10 for the control, as zc-smoke-boot looks
# it up from `uname -r`).
# Version: the kernel's package version (e.g. 5.10.262-1+zc1). lintian clean.
# Output: $OUT/pkg/<lts>/selftests/. Cached on its inputs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/pkg-lib.sh
. "$(dirname "$0")/pkg-lib.sh"

lts=${1:-}
load_conf "$lts"
kernel_identity "$lts" smoke
st="$OUT/selftests/$lts-patched"
if [ ! -f "$st/manifest.json" ] || [ "$TOP/scripts/selftests.sh" -nt "$st/manifest.json" ] ||
	[ "$TOP/tests/selftests/zc-selftests-run" -nt "$st/manifest.json" ]; then
	"$TOP/scripts/selftests.sh" "$lts" patched
fi
pkg="zc-selftests-$lts"
ver=$ZC_PKGVER
dest="$OUT/pkg/$lts/selftests"
sum=$( (cd "$st" && find src manifest.json zc-selftests-run -type f -print0 | sort -z | xargs -0 sha256sum
	cd "$TOP" && find packaging/deb/zc-selftests scripts/package-selftests.sh -type f -print0 | sort -z | xargs -0 sha256sum
	echo "$ver") | sha256sum | cut -d' ' -f1)
if [ -f "$dest/.inputs" ] && [ "$(cat "$dest/.inputs")" = "$sum" ]; then
	log selftests "$lts" "cached: $pkg $ver in $dest"
	exit 0
fi
epoch=$(date -u -d "$CONF_ZC_DATE" +%s)
export SOURCE_DATE_EPOCH=$epoch

mkdir -p "$OUT/pkg/$lts"
work=$(mktemp -d "$OUT/pkg/$lts/.selftests-work.XXXXXX")
cleanup_on_exit "$work"
src="$work/$pkg-${ver%%-*}"
mkdir -p "$src/debian/source"
cp -r "$st/src" "$src/src"
cp "$st/manifest.json" "$st/zc-selftests-run" "$src/"
echo "$lts" >"$src/lts"
echo "$SRC_LINE" >"$src/line"
mb=$(jq -r .tcp_mmap_mb "$st/manifest.json")
subst() { sed -e "s/@LTS@/$lts/g" -e "s/@LINE@/$SRC_LINE/g" -e "s/@KVER@/$CONF_VERSION/g" -e "s/@MB@/$mb/g" "$1"; }
subst "$TOP/packaging/deb/zc-selftests/control.in" >"$src/debian/control"
subst "$TOP/packaging/deb/zc-selftests/lintian-overrides" >"$src/debian/$pkg.lintian-overrides"
cp "$TOP/packaging/deb/zc-selftests/rules" "$TOP/packaging/deb/zc-selftests/copyright" "$src/debian/"
echo "1.0" >"$src/debian/source/format"
deb_changelog "$pkg" "$ver" "$epoch" \
	"tcp_mmap, msg_zerocopy and tcp_inq of Linux $CONF_VERSION (the tree of the zc$CONF_ZC_REVISION kernels), static, with zc-selftests-run." \
	>"$src/debian/changelog"
log selftests "$lts" "$pkg $ver: dpkg-buildpackage"
(cd "$src" && quietly "$work/deb.log" dpkg-buildpackage -b -us -uc -a amd64) ||
	die "dpkg-buildpackage of $pkg failed (log: $work/deb.log)"
mkdir -p "$work/pub"
if ! lintian --fail-on error,warning --tag-display-limit 0 "$work/${pkg}_"*.changes >"$work/pub/lintian.log" 2>&1; then
	cat "$work/pub/lintian.log" >&2
	die "lintian reports errors or warnings without an override for $pkg (packaging/deb/zc-selftests/)"
fi
mv "$work/${pkg}_"*.deb "$work/pub/"
echo "$sum" >"$work/pub/.inputs"
publish_dir "$work/pub" "$dest"
for f in "$dest"/*.deb; do
	log selftests "$lts" "$(basename "$f") $(numfmt --to=iec "$(stat -c %s "$f")")"
done
