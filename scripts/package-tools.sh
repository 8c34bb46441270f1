#!/usr/bin/env bash
# package-tools.sh: the zc-smoke package (zc-smoke, zc-rpc-bench, zc-stress,
# zc-lockcount), .deb and .rpm, built from the C sources in tests/ once for every kernel, with the
# templates in packaging/deb/zc-smoke/ and packaging/rpm/zc-smoke.spec.
# lintian and rpmlint as for the kernels. Output: $OUT/pkg/common/{deb,rpm}/.
# Cached: the same sources and templates are not packaged twice.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/pkg-lib.sh
. "$(dirname "$0")/pkg-lib.sh"

TOOL_VERSION="" TOOL_REVISION="" TOOL_DATE=""
parse_kv "$TOP/packaging/tools.conf" TOOL_
ver="$TOOL_VERSION-$TOOL_REVISION"
epoch=$(date -u -d "$TOOL_DATE" +%s)
export SOURCE_DATE_EPOCH=$epoch
dest="$OUT/pkg/common"
inputs=(tests/smoke/zc_smoke.c tests/smoke/zc-smoke.1 tests/bench/zc_rpc_bench.c tests/bench/zc-rpc-bench.1
	tests/stress/zc_stress.c tests/stress/zc-stress.1 tests/debug/zc_lockcount.c tests/debug/zc-lockcount.1
	tests/lib/zc_common.h tests/c.mk packaging/tools.conf packaging/deb/zc-smoke packaging/rpm/zc-smoke.spec packaging/rpm/rpmlint.toml)
sum=$(cd "$TOP" && find "${inputs[@]}" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ -f "$dest/.inputs" ] && [ "$(cat "$dest/.inputs")" = "$sum" ]; then
	log tools common "cached: zc-smoke $ver in $dest"
	exit 0
fi

mkdir -p "$dest"
work=$(mktemp -d "$dest/.work.XXXXXX")
cleanup_on_exit "$work"
src="$work/zc-smoke-$TOOL_VERSION"
mkdir -p "$src/tests/smoke" "$src/tests/bench" "$src/tests/stress" "$src/tests/debug" "$src/tests/lib"
cp "$TOP"/tests/smoke/zc_smoke.c "$TOP"/tests/smoke/zc-smoke.1 "$src/tests/smoke/"
cp "$TOP"/tests/bench/zc_rpc_bench.c "$TOP"/tests/bench/zc-rpc-bench.1 "$src/tests/bench/"
cp "$TOP"/tests/stress/zc_stress.c "$TOP"/tests/stress/zc-stress.1 "$src/tests/stress/"
cp "$TOP"/tests/debug/zc_lockcount.c "$TOP"/tests/debug/zc-lockcount.1 "$src/tests/debug/"
cp "$TOP/tests/lib/zc_common.h" "$src/tests/lib/"
cp "$TOP/tests/c.mk" "$src/tests/"
changes=("zc-smoke and zc-rpc-bench $TOOL_VERSION: the three fast paths of TCP zerocopy short-circuit small reads, their regressions, and the small-RPC syscall benchmark."
	"zc-smoke: the boundaries, patch 0004's hint, zc.err, short ABI lengths and misaligned fast paths; a child process and time limit per check. New: zc-stress (data integrity under stress) and zc-lockcount (VMA lookups and mmap_lock read locks of the fast paths).")

# --- .deb ---
log tools common "zc-smoke $ver: dpkg-buildpackage"
cp -r "$TOP/packaging/deb/zc-smoke" "$src/debian"
mkdir -p "$src/debian/source"
echo "1.0" >"$src/debian/source/format"
deb_changelog zc-smoke "$ver" "$epoch" "${changes[@]}" >"$src/debian/changelog"
(cd "$src" && quietly "$work/deb.log" dpkg-buildpackage -b -us -uc -a amd64) ||
	die "dpkg-buildpackage of zc-smoke failed (log: $work/deb.log)"
rm -rf "$src/debian" "$src/build"
mkdir -p "$work/pub/deb" "$work/pub/rpm"
if ! lintian --fail-on error,warning --tag-display-limit 0 "$work"/zc-smoke_*.changes >"$work/pub/deb/lintian.log" 2>&1; then
	cat "$work/pub/deb/lintian.log" >&2
	die "lintian reports errors or warnings without an override for zc-smoke (packaging/deb/zc-smoke/)"
fi
mv "$work"/zc-smoke_*.deb "$work/pub/deb/"

# --- .rpm ---
log tools common "zc-smoke $ver: rpmbuild"
mkdir -p "$work/top/SOURCES"
tar -C "$work" --sort=name --mtime="@$epoch" --owner=0 --group=0 -czf "$work/top/SOURCES/zc-smoke-$TOOL_VERSION.tar.gz" "zc-smoke-$TOOL_VERSION"
rpm_changelog "$ver" "$epoch" "${changes[@]}" >"$work/changelog"
quietly "$work/rpm.log" rpmbuild -bb --define "_topdir $work/top" --define "_rpmdir $work/rpmout" \
	--define "zc_version $TOOL_VERSION" --define "zc_release $TOOL_REVISION" \
	--define "zc_changelog_file $work/changelog" --define "_buildhost zc-kernel" \
	--define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
	--target x86_64 "$TOP/packaging/rpm/zc-smoke.spec" ||
	die "rpmbuild of zc-smoke failed (log: $work/rpm.log)"
find "$work/rpmout" -name '*.rpm' -exec mv {} "$work/pub/rpm/" \;
if ! rpmlint -c "$TOP/packaging/rpm/rpmlint.toml" "$work/pub/rpm"/*.rpm >"$work/pub/rpm/rpmlint.log" 2>&1 ||
	! grep -q ' 0 errors, 0 warnings' "$work/pub/rpm/rpmlint.log"; then
	cat "$work/pub/rpm/rpmlint.log" >&2
	die "rpmlint reports errors or unfiltered warnings for zc-smoke (packaging/rpm/rpmlint.toml)"
fi

echo "$sum" >"$work/pub/.inputs"
for d in deb rpm; do publish_dir "$work/pub/$d" "$dest/$d"; done
mv "$work/pub/.inputs" "$dest/.inputs"
for f in "$dest"/deb/*.deb "$dest"/rpm/*.rpm; do
	log tools common "$(basename "$f") $(numfmt --to=iec "$(stat -c %s "$f")")"
done
