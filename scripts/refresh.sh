#!/usr/bin/env bash
# refresh.sh LTS: move one kernel line's pins to the newest version its suites
# serve, only once the new source is proven:
#   1. the newest version of the source package (outdated.sh's answer; or
#      REFRESH_TO=<version>) is downloaded through the private apt
#      configuration (apt checks it against the archive's signed index);
#   2. it is verified and unpacked into a scratch tree by the source stage
#      itself (scripts/source.sh, with a candidate source.conf);
#   3. the line's series is applied to a copy with zero fuzz, hunk by hunk
#      offsets recorded, and scripts/verify-fix.sh must prove the fix on the
#      new code (for an empty series too: the fix must still be upstream);
#   4. only then patches/<lts>/source.conf is rewritten: version, suite, both
#      sha256, the config package's own newest version and sha256, Debian's
#      ABI headers of the same release, ZC_REVISION=1 and ZC_DATE=today; and
#      patches/<lts>/offsets.txt (what the Backport-Notes refer to).
# A patch that no longer applies leaves source.conf and every tree under
# out/src, out/patched untouched, names the patch, file and hunk, and keeps
# the rejected hunks in out/refresh/<lts>/: the cue to rebase by hand.
# Scratch work lives in out/refresh/<lts>/ and is removed on success; the
# proven pristine tree becomes out/src/<lts> (no second unpack).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-}
load_conf "$lts"
[ "$SRC_LINE" = "$lts" ] || die "$lts borrows the source of $SRC_LINE: refresh $SRC_LINE instead (make refresh KERNEL=$SRC_LINE)"
need_tools refresh apt-get apt-cache dpkg dpkg-deb patch jq xz
t0=$SECONDS
conf="$PATCHES_DIR/$lts/source.conf"
scratch="$OUT/refresh/$lts"
rm -rf "$scratch"
mkdir -p "$scratch"

# --- 1. what is the newest? ---
if [ -n "${REFRESH_TO:-}" ]; then
	new=$REFRESH_TO
else
	rc=0
	"$TOP/scripts/outdated.sh" "$lts" >"$scratch/outdated.txt" || rc=$?
	case "$rc" in
	0)
		log refresh "$lts" "already on the newest version its suites serve: $CONF_VERSION"
		rm -rf "$scratch"
		exit 0
		;;
	3) ;;
	*)
		cat "$scratch/outdated.txt" >&2
		die "could not find the newest version of $CONF_PACKAGE (outdated.sh exit $rc): nothing changed"
		;;
	esac
	new=$(jq -r --arg l "$lts" '.lines[] | select(.lts == $l) | .newest' "$OUT/outdated.json")
fi
suites=${CONF_SUITES:-$CONF_SUITE}
suite=$(papt_versions "$CONF_PACKAGE" "$suites" | awk -v v="$new" '$1 == v && !s { s = $2 } END { print s }')
[ -n "$suite" ] || die "$CONF_PACKAGE=$new is not served by the suites of $lts ($suites)"
log refresh "$lts" "$CONF_PACKAGE $CONF_VERSION -> $new ($suite)"

# --- 2. download, verify, unpack: the source stage, on a candidate pin ---
dl="$scratch/dl"
mkdir -p "$dl"
papt_download "$CONF_PACKAGE" "$new" "$dl"
deb=$(find "$dl" -maxdepth 1 -name "${CONF_PACKAGE}_*.deb" | head -n1)
[ -n "$deb" ] || die "apt-get download gave no .deb for $CONF_PACKAGE=$new (see $dl/download.log)"
deb_sha=$(sha256_of "$deb")
tar_sha=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$CONF_TARBALL" | sha256sum | cut -d' ' -f1)
[ "$tar_sha" != "$(printf '' | sha256sum | cut -d' ' -f1)" ] ||
	die "$(basename "$deb") has no ./$CONF_TARBALL: the package layout changed, check TARBALL= in $conf"
mkdir -p "$CACHE_DIR/debs"
mv "$deb" "$CACHE_DIR/debs/${CONF_PACKAGE}_${new//:/%3a}_all.deb"

# The config package moves on its own: its newest version in the same suites.
cfg_ver="" cfg_sha=""
if [ -n "${CONF_CONFIG_PACKAGE:-}" ]; then
	cfg_ver=$(papt_versions "$CONF_CONFIG_PACKAGE" "$suites" | sed -n '1s/ .*//p')
	[ -n "$cfg_ver" ] || die "no suite of $suites serves $CONF_CONFIG_PACKAGE"
	mkdir -p "$scratch/cfg"
	papt_download "$CONF_CONFIG_PACKAGE" "$cfg_ver" "$scratch/cfg"
	cdeb=$(find "$scratch/cfg" -maxdepth 1 -name '*.deb' | head -n1)
	cfg_sha=$(sha256_of "$cdeb")
	mv "$cdeb" "$CACHE_DIR/debs/${CONF_CONFIG_PACKAGE}_${cfg_ver//:/%3a}_amd64.deb"
fi

# Candidate pins: a copy of patches/ whose source.conf names the new version.
cand="$scratch/patches"
mkdir -p "$cand"
cp -r "$PATCHES_DIR/$lts" "$cand/"
setkv() { # FILE KEY VALUE: replace KEY=..., or append it
	if grep -q "^$2=" "$1"; then
		sed -i "s|^$2=.*|$2=$3|" "$1"
	else
		echo "$2=$3" >>"$1"
	fi
}
cconf="$cand/$lts/source.conf"
setkv "$cconf" VERSION "$new"
setkv "$cconf" SUITE "$suite"
setkv "$cconf" DEB_SHA256 "$deb_sha"
setkv "$cconf" TARBALL_SHA256 "$tar_sha"
if [ -n "$cfg_ver" ]; then
	setkv "$cconf" CONFIG_VERSION "$cfg_ver"
	setkv "$cconf" CONFIG_DEB_SHA256 "$cfg_sha"
fi
# Debian's build of the same release, per flavour (for the ABI report).
for flavour in cloud-amd64 amd64; do
	key=ABI_$(echo "$flavour" | tr 'a-z-' 'A-Z_')
	read -r hp hs < <(papt_abi_headers "$new" "$flavour") || true
	if [ -n "${hp:-}" ]; then
		setkv "$cconf" "${key}_PACKAGE" "$hp"
		setkv "$cconf" "${key}_SHA256" "$hs"
	else
		log refresh "$lts" "warning: no linux-headers-*-$flavour of $new in the archive: the ABI report for that flavour will be unavailable"
		sed -i "/^${key}_\(PACKAGE\|SHA256\)=/d" "$cconf"
	fi
	unset hp hs
done
setkv "$cconf" ZC_REVISION 1
setkv "$cconf" ZC_DATE "$(date -u +%F)"
log refresh "$lts" "verifying and unpacking $new into a scratch tree"
PATCHES_DIR=$cand OUT="$scratch/out" "$TOP/scripts/source.sh" "$lts" >"$scratch/source.log" 2>&1 || {
	cat "$scratch/source.log" >&2
	die "the source stage refused $CONF_PACKAGE $new (above): $conf is unchanged"
}
tree="$scratch/out/src/$lts"

# --- 3. the series, zero fuzz, offsets recorded; the fix proven ---
mapfile -t patches < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$PATCHES_DIR/$lts/series")
work="$scratch/tree"
cp -al "$tree" "$work"
offsets="$scratch/offsets.txt"
{
	echo "# Where the series applies on $CONF_PACKAGE $new (written by make refresh;"
	echo "# the Backport-Notes of the patches refer to this file). Zero fuzz."
} >"$offsets"
n=0
for p in "${patches[@]}"; do
	n=$((n + 1))
	rej="$scratch/${p%.patch}.rej"
	if ! pout=$(patch -d "$work" -p1 -F0 -N -t --no-backup-if-mismatch -r "$rej" -i "$PATCHES_DIR/$lts/$p" 2>&1); then
		where=$(printf '%s\n' "$pout" | awk '
			/^patching file / { f = $3 }
			/FAILED at/ { sub(/\.$/, "", $0); printf "  file %s: %s\n", f, $0 }
			/Reversed \(or previously applied\)/ { printf "  file %s: already applied (reversed patch detected)\n", f }
			/can.t find file to patch/ { print "  a file to patch does not exist in the tree" }')
		rm -rf "$work" "$scratch/out" "$cand" "$dl"
		die "patch $n/${#patches[@]} no longer applies to $CONF_PACKAGE $new: $PATCHES_DIR/$lts/$p
${where:-$pout}
Rejected hunks: $rej
$conf and the trees in $OUT/src, $OUT/patched are unchanged. Rebase the patch on $new by hand
(its hunks must apply with zero fuzz), then run 'make refresh KERNEL=$lts' again."
	fi
	if printf '%s\n' "$pout" | grep -q 'with fuzz'; then
		rm -rf "$work" "$scratch/out" "$cand" "$dl"
		die "patch $p applies to $new only with fuzz, which this project does not accept: rebase it by hand ($conf unchanged)"
	fi
	rm -f "$rej"
	printf '%s\n' "$pout" | awk -v p="$p" '
		/^patching file / { f = $3 }
		/^Hunk #[0-9]+ succeeded/ { h = $2; off = "0"; if (match($0, /offset -?[0-9]+/)) off = substr($0, RSTART + 7, RLENGTH - 7)
			printf "%s %s hunk %s offset %s\n", p, f, substr(h, 2), off; seen[f h] = 1; next }
		/^patching file / { next }' >>"$offsets"
	# hunks with no message applied exactly (offset 0)
	awk -v p="$p" '/^\+\+\+ / { f = $2; sub(/^b\//, "", f); h = 0 } /^@@ / { h++; print p, f, h }' "$PATCHES_DIR/$lts/$p" |
		while read -r pp f h; do
			grep -q "^$pp $f hunk $h offset" "$offsets" || echo "$pp $f hunk $h offset 0" >>"$offsets"
		done
done
log refresh "$lts" "series applied with zero fuzz (${#patches[@]} patches); proving the fix"
if [ "$CONF_EXPECT_FIX" = present ]; then
	verdict=$("$TOP/scripts/verify-fix.sh" "$work") || {
		printf '%s\n' "$verdict" >&2
		rm -rf "$work" "$scratch/out" "$cand" "$dl"
		die "the fix is not proven on $CONF_PACKAGE $new (above): $conf is unchanged"
	}
	verdict=${verdict//"$work"/(new tree)}
fi

# --- 4. the pins move, atomically ---
old=$CONF_VERSION
# The changelog keeps the entry of the version each line leaves: this line's
# and that of every line built from its source (the control).
kept=()
for l in $(known_lts); do
	[ "$new" != "$old" ] || break
	[ "$l" = "$lts" ] || grep -qx "SOURCE_LINE=$lts" "$PATCHES_DIR/$l/source.conf" || continue
	(load_conf "$l" && history_keep "$l")
	kept+=("${HISTORY_DIR#"$TOP"/}/$l")
done
cp "$cconf" "$conf.new"
mv "$conf.new" "$conf"
if [ "${#patches[@]}" -gt 0 ]; then
	cp "$offsets" "$PATCHES_DIR/$lts/offsets.txt.new"
	mv "$PATCHES_DIR/$lts/offsets.txt.new" "$PATCHES_DIR/$lts/offsets.txt"
fi
# The proven pristine tree is the new pins' source tree: swap it in rather
# than unpack it again (the stage's stamp names the new pins).
if ! cmp -s "$tree/.zc-source" "$OUT/src/$lts/.zc-source" 2>/dev/null; then
	mkdir -p "$OUT/src"
	if [ -e "$OUT/src/$lts" ]; then mv "$OUT/src/$lts" "$scratch/old-src"; fi
	mv "$tree" "$OUT/src/$lts"
fi
report="$OUT/refresh/$lts.txt"
{
	echo "refresh $lts: $CONF_PACKAGE $old -> $new ($suite), $((SECONDS - t0)) s"
	echo "  source .deb sha256 $deb_sha"
	echo "  tarball     sha256 $tar_sha"
	[ -z "$cfg_ver" ] || echo "  config: $CONF_CONFIG_PACKAGE ${CONF_CONFIG_VERSION:-?} -> $cfg_ver"
	sed -n 's/^ABI_.*_PACKAGE=/  ABI headers: /p' "$conf"
	echo "  ZC_REVISION=1, ZC_DATE=$(date -u +%F): kernel release $(sed -n 's/^VERSION=//p' "$conf" | sed 's/-.*//')-$(sed -n 's/^VERSION=//p' "$conf" | sed 's/^[^-]*-//; s/~/-/g')-zc1-<profile>"
	if [ "${#patches[@]}" -gt 0 ]; then
		echo "  series: ${#patches[@]} patches, zero fuzz; offsets per hunk:"
		grep -v '^#' "$offsets" | sed 's/^/    /'
	else
		echo "  series: empty (the fix is upstream)"
	fi
	[ -z "${verdict:-}" ] || echo "  fix: $verdict"
	echo "to commit:"
	echo "  git add patches/$lts/source.conf$([ "${#patches[@]}" -eq 0 ] || echo " patches/$lts/offsets.txt") ${kept[*]}"
	echo "  git commit -m '$lts: refresh to $CONF_PACKAGE $new (was $old)'"
	echo "then build and gate it: make KERNELS=$lts"
} >"$report"
rm -rf "$scratch"
cat "$report"
