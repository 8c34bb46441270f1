#!/usr/bin/env bash
# package-deb.sh LTS: from the tree scripts/kernel.sh staged, with
# dpkg-buildpackage and the templates in packaging/deb/kernel/:
#   linux-image-<KREL>            the kernel (image signed for shim), modules
#                                 (signed at the build), System.map, config
#   linux-headers-<KREL>          for out-of-tree modules; its postinst runs dkms
#   linux-image-<KREL>-dbg        debug symbols, when the build has debug info
#   linux-image-zc-<line>-<profile>, linux-headers-zc-<line>-<profile>
#                                 metapackages on the newest build of the line
# lintian must report no error and no warning that is not overridden (with a
# reason) in the templates. Output: $OUT/pkg/<kid>/deb/.
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
src="$work/linux-zc-$LINE-${PROFILE:-smoke}-$DEBVER"
mkdir -p "$src/debian/source"
log deb "$lts" "packaging $KREL as $DEBVER"

# deb_overrides TEMPLATE PACKAGE: the package's lintian overrides, when the
# template has any (an empty override file would be shipped for nothing).
deb_overrides() {
	if grep -qv '^[[:space:]]*\(#\|$\)' "$1"; then subst "$1" >"$src/debian/$2.lintian-overrides"; fi
}

# deb_long_name PACKAGE: lintian's file-name limit (80, counted with the
# longest architecture) is passed by kernel releases with a long Debian
# revision (6.12.117-1-deb12u1-zc1-smoke): the release names the upstream
# version, the Debian revision, the series revision and the profile, and the
# file name holds it twice. Overridden then, and only then (an override that
# is not needed would be an unused one).
deb_long_name() {
	local f="${1}_${DEBVER#*:}_amd64.deb"
	[ $((${#f} - 5 + 14)) -gt 80 ] || return 0
	{
		echo "# The kernel release, in the name and the version, names upstream version, Debian revision, series revision and profile."
		echo "package-has-long-file-name *"
	} >>"$src/debian/$1.lintian-overrides"
}

subst "$tpl/control.in" >"$src/debian/control"
dbg=""
if pkg_has_dbg; then
	log deb "$lts" "debug symbols: linux-image-$KREL-dbg"
	dbg="$work/dbg"
	pkg_dbg_tree "$dbg"
	subst "$tpl/linux-image-dbg.control.in" >>"$src/debian/control"
	deb_overrides "$tpl/linux-image-dbg.lintian-overrides" "linux-image-$KREL-dbg"
	deb_long_name "linux-image-$KREL-dbg"
fi
pkg_signed_image "$work/vmlinuz-$KREL"
cp "$tpl/rules" "$tpl/copyright" "$src/debian/"
echo "1.0" >"$src/debian/source/format"
printf 'KREL := %s\nSTAGE := %s\nIMAGE := %s\nDBG := %s\n' "$KREL" "$STAGE" "$work/vmlinuz-$KREL" "$dbg" >"$src/debian/zc.mk"
for s in preinst postinst prerm postrm; do
	subst "$tpl/linux-image.$s" | sed -e "/^#ZC_GUARD#\$/{r $tpl/running-kernel-guard.sh" -e 'd}' >"$src/debian/linux-image-$KREL.$s"
done
subst "$tpl/linux-headers.postinst" >"$src/debian/linux-headers-$KREL.postinst"
deb_overrides "$tpl/linux-image.lintian-overrides" "linux-image-$KREL"
deb_overrides "$tpl/linux-headers.lintian-overrides" "linux-headers-$KREL"
deb_long_name "linux-image-$KREL"
deb_long_name "linux-headers-$KREL"
pkg_history deb "linux-zc-$LINE-${PROFILE:-smoke}" >"$src/debian/changelog"

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
