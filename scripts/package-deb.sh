#!/usr/bin/env bash
# package-deb.sh LTS: linux-image-<KREL> and linux-headers-<KREL> .debs from the
# tree scripts/kernel.sh staged, with dpkg-buildpackage and the templates in
# packaging/deb/kernel/; lintian must report no error and no warning that is
# not overridden (with a reason) in the templates. Output: $OUT/pkg/<lts>/deb/.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/pkg-lib.sh
. "$(dirname "$0")/pkg-lib.sh"

lts=${1:-}
pkg_setup "$lts"
stage_begin "$KID" deb
pkg_cached deb
tpl="$TOP/packaging/deb/kernel"
mkdir -p "$OUT/pkg/$KID"
work=$(mktemp -d "$OUT/pkg/$KID/.deb.XXXXXX")
cleanup_on_exit "$work"
src="$work/linux-zc-$KREL"
mkdir -p "$src/debian/source"
log deb "$lts" "packaging $KREL as $DEBVER"

subst "$tpl/control.in" >"$src/debian/control"
cp "$tpl/rules" "$tpl/copyright" "$src/debian/"
echo "1.0" >"$src/debian/source/format"
printf 'KREL := %s\nSTAGE := %s\n' "$KREL" "$STAGE" >"$src/debian/zc.mk"
for s in preinst postinst prerm postrm lintian-overrides; do
	subst "$tpl/linux-image.$s" >"$src/debian/linux-image-$KREL.$s"
done
subst "$tpl/linux-headers.lintian-overrides" >"$src/debian/linux-headers-$KREL.lintian-overrides"
deb_changelog linux-zc "$DEBVER" "$EPOCH" "${CHANGES[@]}" >"$src/debian/changelog"

(cd "$src" && quietly "$work/build.log" dpkg-buildpackage -b -us -uc -a amd64) ||
	die "dpkg-buildpackage failed for $lts (log: $work/build.log, kept in $OUT/pkg/$KID/deb-build.log)"
cp "$work/build.log" "$OUT/pkg/$KID/deb-build.log"

changes=$(ls "$work"/*.changes)
log deb "$lts" "lintian"
if ! lintian --fail-on error,warning --tag-display-limit 0 "$changes" >"$work/lintian.log" 2>&1; then
	cat "$work/lintian.log" >&2
	cp "$work/lintian.log" "$OUT/pkg/$KID/lintian.log"
	die "lintian reports errors or warnings without an override for $lts: fix them, or override them with a reason in $tpl"
fi
mkdir "$work/out"
mv "$work"/*.deb "$work/lintian.log" "$work/out/"
pkg_publish deb "$work/out" lintian
