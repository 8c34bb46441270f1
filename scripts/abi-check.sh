#!/usr/bin/env bash
# abi-check.sh LTS: the ABI report of a fleet-profile build (PROFILE=cloud or
# distro) against Debian's own build of the same release: Module.symvers of
# out/build/<profile>/<lts>/obj against the one in Debian's
# linux-headers-<abi>-<flavour> package, pinned by sha256 in source.conf
# (ABI_<FLAVOUR>_PACKAGE/_SHA256, moved by `make refresh`) and fetched through
# the private apt configuration. Writes out/results/<kid>/abi.{json,txt}
# (scripts/abi-diff.sh); exit 1 when an exported symbol was removed or
# changed in CRC, namespace or export type: the backport must change none.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

need_tools abi dpkg-deb tar jq python3
lts=${1:-}
profile=${PROFILE:-smoke}
load_conf "$lts"
kid=$(kid "$lts")
proffile="$TOP/packaging/configs/$profile.profile"
[ -f "$proffile" ] || die "unknown profile '$profile'"
PROF_ABI_FLAVOUR=""
parse_kv "$proffile" PROF_
[ -n "$PROF_ABI_FLAVOUR" ] || die "profile $profile has no Debian build to compare with (ABI_FLAVOUR= in $proffile): the ABI report is for the fleet profiles (cloud, distro)"
key=ABI_$(echo "$PROF_ABI_FLAVOUR" | tr 'a-z-' 'A-Z_')
pkgv="CONF_${key}_PACKAGE" shav="CONF_${key}_SHA256"
[ -n "${!pkgv:-}" ] && [ -n "${!shav:-}" ] ||
	die "$PATCHES_DIR/$SRC_LINE/source.conf pins no ${key}_PACKAGE/${key}_SHA256 (Debian's linux-headers-*-$PROF_ABI_FLAVOUR of $CONF_VERSION): run 'make refresh KERNEL=$SRC_LINE'"
ours="$OUT/build/$profile/$lts/obj/Module.symvers"
[ -s "$ours" ] || die "no $ours: build the kernel first (make kernel KERNEL=$lts PROFILE=$profile)"
stage_begin "$kid" abi
res="$OUT/results/$kid"
mkdir -p "$res"
# An older report must not stand for this build if this one fails half-way.
rm -f "$res/abi.json" "$res/abi.txt"
krel=$(cat "$OUT/build/$profile/$lts/KREL" 2>/dev/null) || die "no $OUT/build/$profile/$lts/KREL: build the kernel first (make kernel KERNEL=$lts PROFILE=$profile)"
deb=$(fetch_pinned_deb "${!pkgv}" "$CONF_VERSION" amd64 "${!shav}")
dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/Module.symvers' >"$res/debian.Module.symvers.tmp" ||
	die "$deb holds no Module.symvers"
mv "$res/debian.Module.symvers.tmp" "$res/debian.Module.symvers"
rc=0
line=$("$TOP/scripts/abi-diff.sh" "$res/debian.Module.symvers" "$ours" "$res" "$kid against ${!pkgv} $CONF_VERSION") || rc=$?
log abi "$kid" "$line"
jq --arg p "${!pkgv}" --arg v "$CONF_VERSION" --arg k "$krel" '. + {reference_package: $p, reference_version: $v, krel: $k}' "$res/abi.json" >"$res/abi.json.tmp"
mv "$res/abi.json.tmp" "$res/abi.json"
case "$rc" in
0) stage_end ok "$(jq -r '"\(.counts.removed) removed, \(.counts.changed) changed, \(.counts.added) added"' "$res/abi.json")" ;;
1) die "the build changes Debian's ABI: $(jq -r '"\(.counts.removed) removed, \(.counts.changed) changed"' "$res/abi.json") exported symbol(s) (list in $res/abi.txt). A fleet kernel must keep every symbol Debian's modules use." ;;
*) die "abi-diff.sh failed (exit $rc)" ;;
esac
