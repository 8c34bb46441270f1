#!/usr/bin/env bash
# patch.sh LTS: make the patched tree $OUT/patched/<lts>/ from the pristine
# $OUT/src/<lts>/ and patches/<lts>/series.
#
# The pristine tree is copied, each patch in the series is applied with zero
# fuzz (line offsets are fine), and the result replaces any earlier patched
# tree only when every patch applied. A failure names the patch, the file and
# the hunk, and leaves nothing behind. Then scripts/verify-fix.sh must prove
# from the code that the fix is present (after the backport, or upstream for
# an empty series); otherwise the stage fails loudly.
#
# The patched tree records what it carries in .zc-series (revision, series
# checksum, patch list): the revision becomes the -zc<N> local version.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-}
load_conf "$lts"
need_tools patch patch cp find sha256sum flock df
stage_begin "$lts" patch
mkdir -p "$OUT/patched"
# One run per line at a time; under the lock, a work directory of this line
# is what a killed run left (a half tree): it goes first.
stage_lock "$OUT/.locks/patch-$lts.lock" "'make patch KERNEL=$lts'"
clean_stale "$OUT/patched" ".$lts.*" "'make patch KERNEL=$lts'"
src="$OUT/src/$SRC_LINE"
dest="$OUT/patched/$lts"
pdir="$PATCHES_DIR/$lts"

[ -f "$src/.zc-source" ] || die "no pristine tree in $src: run 'make source KERNEL=$SRC_LINE' first"
[ -f "$pdir/series" ] || die "$pdir/series is missing (an empty series is a file with no patch lines)"

mapfile -t patches < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$pdir/series")
for p in "${patches[@]}"; do
	[[ $p != *" "* ]] || die "$pdir/series: options after a patch name are not supported: '$p'"
	[ -f "$pdir/$p" ] || die "$pdir/series names $p, which does not exist in $pdir"
done

patch_summary() {
	if [ "$CONF_EXPECT_FIX" = absent ]; then echo "control: fix absent, proven"
	elif [ "${#patches[@]}" -eq 0 ]; then echo "upstream, proven"
	else echo "${#patches[@]} patches, -zc$CONF_ZC_REVISION, proven"; fi
}

# What the patched tree will carry; identical inputs mean the cached tree is good.
series_sum=$( (cat "$src/.zc-source" "$pdir/series"; for p in "${patches[@]}"; do cat "$pdir/$p"; done) | sha256sum | cut -d' ' -f1)
record="ZC_REVISION=$CONF_ZC_REVISION
EXPECT_FIX=$CONF_EXPECT_FIX
SOURCE=$CONF_PACKAGE $CONF_VERSION
SERIES_SHA256=$series_sum
PATCHES=${patches[*]}"
if [ -f "$dest/.zc-series" ] && [ "$(cat "$dest/.zc-series")" = "$record" ]; then
	log patch "$lts" "cached: $dest (series revision $CONF_ZC_REVISION, ${#patches[@]} patches)"
	stage_end ok "$(patch_summary) (cached)"
	exit 0
fi

mkdir -p "$OUT/patched"
# Hard links cost an inode each, and the patched files their size.
zc_need_space "$OUT/patched" $((64 * 1024 * 1024)) "the patched tree of $lts" "$(find "$src" | wc -l)"
work=$(mktemp -d "$OUT/patched/.$lts.XXXXXX")
cleanup_on_exit "$work"
log patch "$lts" "copying the pristine tree"
# Hard links: fast and small. patch(1) writes each file it changes anew (and
# the build writes only under O=), so the pristine tree is never modified.
cp -al "$src" "$work/tree" || { zc_die_if_full "$work" "copying the pristine tree"; die "could not copy $src to $work/tree"; }
rm -f "$work/tree/.zc-source"

n=0
for p in "${patches[@]}"; do
	n=$((n + 1))
	log patch "$lts" "applying $n/${#patches[@]}: $p"
	if ! pout=$(patch -d "$work/tree" -p1 -F0 -N -t --no-backup-if-mismatch -r - -i "$pdir/$p" 2>&1); then
		where=$(printf '%s\n' "$pout" | awk '
			/^patching file / { f = $3 }
			/^checking file / { f = $3 }
			/FAILED at/ { sub(/\.$/, "", $0); printf "  file %s: %s\n", f, $0 }
			/Reversed \(or previously applied\)/ { printf "  file %s: already applied (reversed patch detected)\n", f }
			/can.t find file to patch/ { nofile = 1 }
			nofile && /^\|\+\+\+ / { t = $2; sub(/^[ab]\//, "", t); sub(/\t.*/, "", t)
				printf "  file %s: does not exist in the tree (the patch targets a file this source lacks)\n", t; nofile = 0 }')
		die "patch $n/${#patches[@]} does not apply to $CONF_PACKAGE $CONF_VERSION: $pdir/$p
${where:-$pout}
The pristine tree $src is untouched and no patched tree was written.
Refresh the patch against this source, or pin the source it was made for."
	fi
	if [ "$V" = 1 ]; then printf "%s\n" "$pout" >&2; fi
	if printf '%s\n' "$pout" | grep -q 'with fuzz'; then
		die "patch $p applied only with fuzz, which this project does not accept: refresh it"
	fi
done

log patch "$lts" "verifying the fix from the code"
if [ "$CONF_EXPECT_FIX" = absent ]; then
	# The control: its tree must lack the fix, or it controls nothing.
	if verdict=$("$TOP/scripts/verify-fix.sh" "$work/tree"); then
		die "the control line $lts is supposed to lack the fix, but its tree has it:
$verdict"
	fi
	verdict="ABSENT (as expected for a control): ${verdict#ABSENT: }"
elif ! verdict=$("$TOP/scripts/verify-fix.sh" "$work/tree"); then
	if [ "${#patches[@]}" -eq 0 ]; then
		die "$CONF_PACKAGE $CONF_VERSION was expected to carry the short-circuit upstream (empty series), but it does not:
$verdict
Add a backport series in $pdir, as for 5.10."
	fi
	die "the series in $pdir applied, but the fix is still not in the tree:
$verdict"
fi

verdict=${verdict//"$work/tree"/$dest}
printf '%s\n' "$record" >"$work/tree/.zc-series"
if [ -e "$dest" ]; then mv "$dest" "$work/old"; fi
mv "$work/tree" "$dest"
if [ "$CONF_EXPECT_FIX" = absent ]; then
	log patch "$lts" "control, fix proven absent: $(echo "$verdict" | head -n1)"
elif [ "${#patches[@]}" -eq 0 ]; then
	log patch "$lts" "already upstream, proven: ${verdict#PRESENT: }"
else
	log patch "$lts" "backported (${#patches[@]} patches, revision $CONF_ZC_REVISION), proven: ${verdict#PRESENT: }"
fi
stage_end ok "$(patch_summary)"
