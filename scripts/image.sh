#!/usr/bin/env bash
# image.sh LTS: build the UEFI-bootable disk image of one kernel line with
# mkosi (the configuration is images/, one for every kernel): Debian bookworm
# with systemd, the line's linux-image-<KREL>, the common zc-smoke package and
# the line's zc-selftests-<lts> when it is built,
# a UKI as EFI/BOOT/BOOTX64.EFI. Writes $OUT/images/<lts>/:
#   zc-<lts>_<KREL>.raw   the disk image (what a user boots or flashes)
#   zc-<lts>_<KREL>.efi   its UKI; uki.{linux,initrd,cmdline}: the UKI's sections
#   image.raw             symlink to the disk image
#   image.json            {kernel, krel, image, image_bytes, build_seconds, packages, inputs_sha256, ...}
#   build.log             mkosi's output
# Idempotent: when the packages and images/ are unchanged the image is kept.
# The apt package cache and mkosi's incremental cache (the base system, which
# does not depend on the kernel) are shared by every kernel and every clone:
# $CACHE_DIR/mkosi/. mkosi builds are serialised by a lock there.
#
# Variables:
#   PKG_DIRS="DIR..."  the .deb directories (default $OUT/pkg/<lts>/deb $OUT/pkg/common/deb)
#   KREL=<release>     the kernel release (default: $OUT/pkg/<lts>/KREL, else
#                      the linux-image-* package found in PKG_DIRS)
#   IMAGE_FORCE=1      rebuild even when up to date; IMAGE_FORCE=2 also drops
#                      the incremental cache (e.g. to pick up Debian updates)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=images/image-lib.sh
. "$TOP/images/image-lib.sh"

lts=${1:-}
load_conf "$lts"
kid=$(kid "$lts")
image_pkg_dirs "$lts"
image_krel "$lts"
stage_begin "$kid" image

# --- tools ---
command -v mkosi >/dev/null || die "mkosi is not installed: run 'make deps' (mkosi 24 from bookworm-backports)"
mver=$(mkosi --version | awk '{print $2}')
dpkg --compare-versions "$mver" ge 24 ||
	die "mkosi $mver is too old (this configuration needs 24 or newer, from bookworm-backports): run 'make deps'"
for t in reprepro mkfs.vfat mcopy sfdisk zstd objcopy depmod; do
	command -v "$t" >/dev/null || die "'$t' is missing, mkosi needs it for a UEFI image: run 'make deps'"
done
[ -x /usr/lib/systemd/ukify ] || die "/usr/lib/systemd/ukify is missing (systemd 254 from bookworm-backports, pulled in by mkosi): run 'make deps'"
# ukify runs under $MKOSI_INTERPRETER (else the first python3 in PATH, which
# may be a pyenv or venv one without Debian's modules): pin Debian's.
export MKOSI_INTERPRETER=/usr/bin/python3
"$MKOSI_INTERPRETER" -c 'import pefile' 2>/dev/null ||
	die "python3-pefile is missing: ukify needs it to build the UKI; run 'make deps' (or apt-get install python3-pefile)"
findmnt --target / -n -o TARGET | grep -qx / || die "mkosi needs / to be a mount point (in a chroot: mount --bind the chroot onto itself first)"

# The image profile follows the kernel's (images/mkosi.profiles/<profile>.conf).
profile=${PROFILE:-smoke}
[ -f "$TOP/images/mkosi.profiles/$profile.conf" ] ||
	die "no image profile for the kernel profile '$profile': add images/mkosi.profiles/$profile.conf (there: $(cd "$TOP/images/mkosi.profiles" && ls | sed 's/\.conf$//' | tr '\n' ' '))"

# --- inputs ---
dest="$OUT/images/$kid"
name="zc-${lts}_$KREL"
mapfile -t debs < <(image_deb_files)
# mkosi makes a reprepro repository of the package directories, and reprepro
# refuses a .deb without Section: and Priority: (its error is cryptic).
for f in "${debs[@]}"; do
	[ -n "$(dpkg-deb -f "$f" Section)" ] && [ -n "$(dpkg-deb -f "$f" Priority)" ] ||
		die "$f has no Section: or Priority: field; reprepro (mkosi's local package repository) refuses it. Fix the package's control file."
done
inputs=$(
	{
		echo "mkosi $mver"
		echo "krel $KREL profile $profile"
		for f in "${debs[@]}"; do echo "$(sha256_of "$f") ${f##*/}"; done
		(cd "$TOP/images" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z |
			xargs -0 -I{} sh -c 'if [ -L "{}" ]; then echo "link {} $(readlink "{}")"; else echo "$(sha256sum <"{}" | cut -c1-64) {} $(stat -c %a "{}")"; fi')
	} | sha256sum | cut -c1-64
)
if [ "${IMAGE_FORCE:-0}" = 0 ] && [ -f "$dest/image.json" ] && [ -f "$dest/$name.raw" ] &&
	[ "$(jq -r .inputs_sha256 "$dest/image.json")" = "$inputs" ]; then
	log image "$kid" "up to date: $dest/$name.raw (same packages and images/; IMAGE_FORCE=1 rebuilds)"
	stage_end ok "$KREL up to date"
	exit 0
fi

# --- build, into a fresh directory swapped in at the end ---
mcache="$CACHE_DIR/mkosi"
mkdir -p "$mcache/incremental" "$mcache/packages" "$OUT/images"
exec 8>"$mcache/.lock"
if ! flock -n 8; then
	log image "$kid" "waiting for another mkosi build (lock $mcache/.lock)"
	flock 8
fi
force=()
if [ "${IMAGE_FORCE:-0}" = 2 ]; then force=(-ff); fi
tmp=$(mktemp -d "$OUT/images/.build-$lts.XXXXXX")
cleanup_on_exit "$tmp"
mkosi_args=(
	--directory "$TOP/images"
	--image-id "zc-$lts"
	--image-version "$KREL"
	--profile "$profile"
	--output-dir "$tmp"
	--cache-dir "$mcache/incremental"
	--package-cache-dir "$mcache/packages"
	--incremental yes
)
for d in "${PKG_DIRS_A[@]}"; do mkosi_args+=(--volatile-package-directory "$d"); done
# The line's selftests (zc-selftests-<lts>), when a package directory has them.
selftests_pkg=""
if image_deb_files | grep -q "/zc-selftests-${lts}_[^/]*\.deb\$"; then
	selftests_pkg=zc-selftests-$lts
	mkosi_args+=(--volatile-package "$selftests_pkg")
fi
warm=cold
if compgen -G "$mcache/incremental/*.cache" >/dev/null; then warm=warm; fi
log image "$kid" "building $name.raw with mkosi $mver ($warm incremental cache; packages from ${PKG_DIRS_A[*]})"
t0=$SECONDS
# The last build of any image tells how long this one takes (an ETA).
prev=$({ cat "$OUT"/images/*/image.json 2>/dev/null || true; } | jq -s 'map(.build_seconds // empty) | if length > 0 then (add / length | round) else 0 end' 2>/dev/null || true)
[[ $prev =~ ^[0-9]+$ ]] || prev=0
# image_progress PID LOG: while PID runs, a line every PROGRESS_EVERY seconds
# (default 15): elapsed, the ETA and the step mkosi reached (its "‣" lines).
image_progress() {
	local pid=$1 logf=$2 step eta
	while kill -0 "$pid" 2>/dev/null; do
		sleep "${PROGRESS_EVERY:-15}"
		kill -0 "$pid" 2>/dev/null || break
		step=$(grep -a '‣' "$logf" 2>/dev/null | tail -n1 | sed 's/^[^‣]*‣ *//' | cut -c1-80)
		eta=""
		if [ "${prev:-0}" -gt 0 ]; then
			if [ $((SECONDS - t0)) -lt "$prev" ]; then eta=", ETA $((prev - (SECONDS - t0)))s (last builds took ${prev}s)"
			else eta=", longer than the last builds (${prev}s)"; fi
		fi
		log image "$kid" "$((SECONDS - t0))s elapsed$eta: ${step:-starting mkosi}"
	done
}
# mkosi insists on a terminal-less, non-interactive run: stdin from /dev/null.
mrc=0
quietly "$tmp/build.log" mkosi "${mkosi_args[@]}" "${force[@]}" build </dev/null &
mpid=$!
image_progress "$mpid" "$tmp/build.log" &
ppid=$!
wait "$mpid" || mrc=$?
kill "$ppid" 2>/dev/null || true
wait "$ppid" 2>/dev/null || true
if [ "$mrc" != 0 ]; then
	cp "$tmp/build.log" "$OUT/images/$kid.failed.log"
	die "mkosi could not build the $lts image (log: $OUT/images/$kid.failed.log).
Check that the packages in ${PKG_DIRS_A[*]} install (their Depends must be in Debian bookworm)."
fi
rm -f "$OUT/images/$kid.failed.log"
secs=$((SECONDS - t0))

# --- check what was built ---
[ -f "$tmp/$name.raw" ] || die "mkosi finished but left no $name.raw in $tmp (build log: $tmp/build.log)"
uki="$tmp/$name.efi"
[ -f "$uki" ] || die "mkosi left no UKI $name.efi next to the image; is Bootloader=uki still in images/mkosi.conf?"
manifest="$tmp/$name.manifest"
[ -f "$manifest" ] || die "no package manifest $manifest (ManifestFormat=json in images/mkosi.conf)"
jq -e --arg p "linux-image-$KREL" '[.packages[] | select(.name == $p)] | length == 1' "$manifest" >/dev/null ||
	die "the image does not contain linux-image-$KREL (see $manifest)"
jq -e '[.packages[] | select(.name == "zc-smoke")] | length == 1' "$manifest" >/dev/null ||
	die "the image does not contain zc-smoke (see $manifest)"
if [ -n "$selftests_pkg" ]; then
	jq -e --arg p "$selftests_pkg" '[.packages[] | select(.name == $p)] | length == 1' "$manifest" >/dev/null ||
		die "the image does not contain $selftests_pkg (see $manifest)"
fi
others=$(jq -r --arg p "linux-image-$KREL" '.packages[] | select(.name | startswith("linux-image-")) | select(.name != $p) | .name' "$manifest")
[ -z "$others" ] || die "a distro kernel slipped into the image: $others (something in images/ pulls it in)"
objcopy -O binary --only-section=.cmdline "$uki" "$tmp/uki.cmdline.raw"
tr -d '\0' <"$tmp/uki.cmdline.raw" >"$tmp/uki.cmdline"
rm -f "$tmp/uki.cmdline.raw"
grep -q 'console=ttyS0' "$tmp/uki.cmdline" || die "the UKI's command line lacks console=ttyS0: $(cat "$tmp/uki.cmdline")"
grep -q 'root=PARTUUID=[0-9a-f-]\{36\}' "$tmp/uki.cmdline" || die "mkosi did not fill in root=PARTUUID: $(cat "$tmp/uki.cmdline")"
objcopy -O binary --only-section=.linux "$uki" "$tmp/uki.linux"
objcopy -O binary --only-section=.initrd "$uki" "$tmp/uki.initrd"
[ -s "$tmp/uki.linux" ] && [ -s "$tmp/uki.initrd" ] || die "could not extract the kernel and the initrd from $uki"
rm -f "$tmp/$name.vmlinuz" "$tmp/$name.initrd" "$tmp/$name"
ln -s "$name.raw" "$tmp/image.raw"
bytes=$(stat -c %s "$tmp/$name.raw")
used=$(($(stat -c %b "$tmp/$name.raw") * 512))
jq -n --arg kernel "$lts" --arg krel "$KREL" --arg image "$name.raw" --argjson bytes "$bytes" \
	--argjson used "$used" --argjson secs "$secs" --arg cache "$warm" --arg inputs "$inputs" \
	--arg cmdline "$(cat "$tmp/uki.cmdline")" --arg mkosi "$mver" --arg profile "$profile" \
	--argjson pkgs "$(image_deb_files | while read -r f; do
		jq -n --arg f "$(relpath "$f")" --arg s "$(sha256_of "$f")" '{file: $f, sha256: $s}'
	done | jq -s .)" \
	'{kernel: $kernel, krel: $krel, image: $image, image_bytes: $bytes, image_allocated_bytes: $used,
	  profile: $profile, build_seconds: $secs, incremental_cache: $cache, mkosi: $mkosi, cmdline: $cmdline,
	  inputs_sha256: $inputs, packages: $pkgs}' >"$tmp/image.json"

rm -rf "$dest.old"
if [ -d "$dest" ]; then mv "$dest" "$dest.old"; fi
mv "$tmp" "$dest"
rm -rf "$dest.old"
log image "$kid" "built $dest/$name.raw in ${secs}s ($warm cache): $(numfmt --to=iec "$bytes") ($(numfmt --to=iec "$used") allocated)"
stage_end ok "$KREL ${secs}s $(numfmt --to=iec "$used")"
