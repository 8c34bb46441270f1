#!/usr/bin/env bash
# package-rpm.sh LTS: kernel-zc<line>-<profile> (e.g. kernel-zc5.10-cloud),
# its -devel and, when the build has debug info, its -debuginfo .rpms from the
# tree that scripts/kernel.sh staged (the same one the .debs come from), with
# rpmbuild and packaging/rpm/kernel-zc.spec; the image is signed for shim as
# in the .deb. rpmlint must show no error, and its remaining warnings are
# filtered in packaging/rpm/rpmlint.toml, each with a reason.
# Output: $OUT/pkg/<kid>/rpm/.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/pkg-lib.sh
. "$(dirname "$0")/pkg-lib.sh"

lts=${1:-}
pkg_setup "$lts"
stage_begin "$KID" rpm
pkg_cached rpm
mkdir -p "$OUT/pkg/$KID"
work=$(mktemp -d "$OUT/pkg/$KID/.rpm.XXXXXX")
cleanup_on_exit "$work"
log rpm "$lts" "packaging $KREL as $RPMNAME-$RPMVER-$RPMREL"

pkg_history rpm >"$work/changelog"
pkg_signed_image "$work/vmlinuz-$KREL"
dbg="" nil='%{nil}'
if pkg_has_dbg; then
	log rpm "$lts" "debug symbols: $RPMNAME-debuginfo"
	dbg="$work/dbg"
	pkg_dbg_tree "$dbg"
fi
quietly "$work/rpmbuild.log" rpmbuild -bb \
	--define "_topdir $work/top" \
	--define "_rpmdir $work/out" \
	--define "krel $KREL" --define "kver $RPMVER" --define "rpmrel $RPMREL" \
	--define "zc_name $RPMNAME" --define "zc_line $LINE" --define "zc_profile ${PROFILE:-smoke}" \
	--define "zc_stage $STAGE" --define "zc_image $work/vmlinuz-$KREL" --define "zc_dbg ${dbg:-$nil}" \
	--define "zc_tree $OUT/patched/$lts" --define "zc_summary $SUMMARY" \
	--define "zc_guard_file $TOP/packaging/deb/kernel/running-kernel-guard.sh" --define "zc_maintainer $MAINTAINER" \
	--define "zc_changelog_file $work/changelog" \
	--define "_buildhost zc-kernel" \
	--define "use_source_date_epoch_as_buildtime 1" \
	--define "clamp_mtime_to_source_date_epoch 1" \
	--target x86_64 \
	"$TOP/packaging/rpm/kernel-zc.spec" ||
	die "rpmbuild failed for $lts (log: $work/rpmbuild.log)"

mkdir -p "$work/pub"
find "$work/out" -name '*.rpm' -exec mv {} "$work/pub/" \;
log rpm "$lts" "rpmlint"
if ! rpmlint -c "$TOP/packaging/rpm/rpmlint.toml" "$work/pub"/*.rpm >"$work/pub/rpmlint.log" 2>&1 ||
	! grep -q ' 0 errors, 0 warnings' "$work/pub/rpmlint.log"; then
	cp "$work/pub/rpmlint.log" "$OUT/pkg/$KID/rpmlint.log"
	grep -E ": [EW]: " "$work/pub/rpmlint.log" | awk '{print $2, $3}' | sort | uniq -c | sort -rn >&2
	die "rpmlint reports errors or unfiltered warnings for $lts (full list: $OUT/pkg/$KID/rpmlint.log): fix them, or filter them with a reason in packaging/rpm/rpmlint.toml"
fi
pkg_publish rpm "$work/pub" rpmlint
