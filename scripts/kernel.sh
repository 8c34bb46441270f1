#!/usr/bin/env bash
# kernel.sh LTS: build the kernel of one line with $PROFILE (default smoke)
# from the patched tree, once, and stage what both package formats ship:
#   $OUT/build/<profile>/<lts>/stage/image/    boot/{vmlinuz,System.map,config}-KREL, lib/modules/KREL
#   $OUT/build/<profile>/<lts>/stage/headers/  usr/src/linux-headers-KREL, lib/modules/KREL/build
#   $OUT/build/<profile>/<lts>/KREL, build.json
# LOCALVERSION is -zc<ZC_REVISION> (set explicitly: 6.x would append "+").
# SOURCE_DATE_EPOCH and KBUILD_BUILD_{TIMESTAMP,USER,HOST} come from ZC_DATE
# in source.conf, so the same inputs give the same bytes. ccache is used when
# present, with CCACHE_BASEDIR so fresh clones share its cache.
#   CONFIG_ONLY=1  configure and check the profile, do not compile (CI's
#                  proof for the `distro` profile, which takes hours to build)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-}
profile=${PROFILE:-smoke}
load_conf "$lts"
tree="$OUT/patched/$lts"
[ -f "$tree/.zc-series" ] || die "no patched tree for $lts: run 'make patch KERNEL=$lts' first"
proffile="$TOP/packaging/configs/$profile.profile"
[ -f "$proffile" ] || die "unknown profile '$profile': no $proffile (profiles: $(cd "$TOP/packaging/configs" && ls ./*.profile | sed 's|./||; s|\.profile||' | tr '\n' ' '))"
PROF_BASE="" PROF_FRAGMENTS=""
parse_kv "$proffile" PROF_
stage_begin "$lts" kernel

base="$OUT/build/$profile/$lts"
obj="$base/obj"
mkdir -p "$obj"
localversion="-zc$CONF_ZC_REVISION"
epoch=$(date -u -d "$CONF_ZC_DATE" +%s) || die "ZC_DATE=$CONF_ZC_DATE in source.conf is not a date"
export SOURCE_DATE_EPOCH=$epoch
KBUILD_BUILD_TIMESTAMP="$(LC_ALL=C date -u -d "@$epoch")"
export KBUILD_BUILD_TIMESTAMP
export KBUILD_BUILD_USER=zc-kernel KBUILD_BUILD_HOST=zc-kernel KBUILD_BUILD_VERSION=1
export CCACHE_BASEDIR="$TOP"
cc=gcc
if command -v ccache >/dev/null; then cc="ccache gcc"; fi
jobs=${JOBS:-$(nproc)}
# The kernel's make must not inherit the caller's make flags (`make -s check`
# would hide the CC lines that are read below, -j would stack).
# Host programs (shipped in the headers) are built without the absolute path
# of this checkout, so two clones give the same bytes.
kmake=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tree" O="$obj" ARCH=x86_64 "CC=$cc" "LOCALVERSION=$localversion" -j"$jobs"
	"HOSTCFLAGS=-ffile-prefix-map=$TOP/=")

# One kernel build at a time on this machine, whatever `make -j` runs.
# (STAGE_ONLY=1 re-stages an existing build: no compile, no lock.)
if [ "${STAGE_ONLY:-0}" != 1 ]; then
	exec 9>"$OUT/.kernel-build.lock"
	if ! flock -n 9; then
		log kernel "$lts" "waiting for another kernel build to finish"
		flock 9
	fi
fi

# --- configure ---
fragments=()
IFS=, read -r -a names <<<"$PROF_FRAGMENTS"
for f in "${names[@]}"; do fragments+=("$TOP/packaging/configs/$f"); done
# Options whose Kconfig differs between lines: <profile>-<lts>.config.
if [ -f "$TOP/packaging/configs/$profile-$SRC_LINE.config" ]; then
	fragments+=("$TOP/packaging/configs/$profile-$SRC_LINE.config")
fi
case "$PROF_BASE" in
debian:*)
	# Debian's own config, from the pinned linux-config-<lts> package.
	cfgname=${PROF_BASE#debian:}
	[ -n "${CONF_CONFIG_PACKAGE:-}" ] || die "$lts: source.conf has no CONFIG_PACKAGE= for the distro profile"
	cdeb="$CACHE_DIR/debs/${CONF_CONFIG_PACKAGE}_${CONF_VERSION}_amd64.deb"
	if [ ! -f "$cdeb" ]; then
		log kernel "$lts" "downloading $CONF_CONFIG_PACKAGE=$CONF_VERSION"
		dl=$(mktemp -d "$CACHE_DIR/debs/.dl.XXXXXX")
		cleanup_on_exit "$dl"
		papt_download "$CONF_CONFIG_PACKAGE" "$CONF_VERSION" "$dl"
		verify_sha256 "$dl"/*.deb "$CONF_CONFIG_DEB_SHA256" "downloaded $CONF_CONFIG_PACKAGE $CONF_VERSION"
		mv "$dl"/*.deb "$cdeb"
	fi
	verify_sha256 "$cdeb" "$CONF_CONFIG_DEB_SHA256" "$CONF_CONFIG_PACKAGE $CONF_VERSION"
	dpkg-deb --fsys-tarfile "$cdeb" | tar -xO --wildcards "*/$cfgname" | xz -dc >"$base/debian.config" ||
		die "$cdeb has no $cfgname"
	basecfg="$base/debian.config"
	;;
*) basecfg=$PROF_BASE ;;
esac
if [ "${STAGE_ONLY:-0}" = 1 ]; then
	[ -f "$obj/arch/x86/boot/bzImage" ] || die "STAGE_ONLY=1 but $lts was never built in $obj"
else
	log kernel "$lts" "configuring profile $profile ($PROF_BASE + $PROF_FRAGMENTS)"
	"$TOP/scripts/kconfig.sh" "$tree" "$obj" "$basecfg" "${fragments[@]}"
fi
krel=$("${kmake[@]}" -s kernelrelease)
[ "$krel" = "$(make -s -C "$tree" kernelversion)$localversion" ] ||
	die "kernel release is '$krel', expected $(make -s -C "$tree" kernelversion)$localversion (a localversion file or CONFIG_LOCALVERSION in the config?)"

if [ "${CONFIG_ONLY:-0}" = 1 ]; then
	log kernel "$lts" "configured $krel with profile $profile ($(grep -c '=[ym]$' "$obj/.config") options set); CONFIG_ONLY=1: not compiling"
	stage_end ok "$krel configured"
	exit 0
fi

# --- build ---
t0=$SECONDS
ccache_hits() { ccache -s 2>/dev/null | awk '/^ *Hits:/ {print $2; exit}' || true; }
ccache_before=$(ccache_hits)
log kernel "$lts" "building $krel (profile $profile, -j$jobs, CC=$cc)"
if [ "${STAGE_ONLY:-0}" = 1 ]; then
	: # built before
elif ! "${kmake[@]}" bzImage modules >"$base/build.log" 2>&1; then
	tail -n 30 "$base/build.log" >&2
	die "the $lts kernel does not build (full log: $base/build.log)"
fi
build_s=$((SECONDS - t0))
if [ "${STAGE_ONLY:-0}" = 1 ] && [ -f "$base/build.json" ]; then
	build_s=$(jq -r .build_seconds "$base/build.json")
fi

# --- stage: what the packages carry, built once for both formats ---
stage="$base/stage"
newest_ko=$(find "$obj" -name '*.ko' -newer "$stage/.complete" 2>/dev/null | head -n1 || true)
if [ -f "$stage/.complete" ] && [ -z "$newest_ko" ] && [ "$stage/.complete" -nt "$0" ] &&
	cmp -s "$obj/arch/x86/boot/bzImage" "$stage/image/boot/vmlinuz-$krel" &&
	cmp -s "$obj/.config" "$stage/image/boot/config-$krel"; then
	log kernel "$lts" "$krel is up to date (${build_s}s to check), stage unchanged"
	stage_end ok "$krel (up to date)"
	exit 0
fi
log kernel "$lts" "staging image, modules and headers"
rm -rf "$stage"
img="$stage/image"
install -D -m 0644 "$obj/arch/x86/boot/bzImage" "$img/boot/vmlinuz-$krel"
install -D -m 0644 "$obj/System.map" "$img/boot/System.map-$krel"
install -D -m 0644 "$obj/.config" "$img/boot/config-$krel"
quietly "$base/modules_install.log" "${kmake[@]}" INSTALL_MOD_PATH="$img" INSTALL_MOD_STRIP=1 modules_install
rm -f "$img/lib/modules/$krel/build" "$img/lib/modules/$krel/source"
[ -f "$img/lib/modules/$krel/modules.dep" ] || die "modules_install left no modules.dep for $krel"

# Headers for out-of-tree modules: the file selection of the kernel's own
# scripts/package/builddeb (5.10, deploy_kernel_headers), for both formats.
hdr="$stage/headers/usr/src/linux-headers-$krel"
mkdir -p "$hdr"
(
	cd "$tree"
	find . arch/x86 -maxdepth 1 -name 'Makefile*'
	find include scripts -type f -o -type l
	find arch/x86 -name Kbuild.platforms -o -name Platform
	find arch/x86 \( -name include -o -name scripts \) -type d -print0 | xargs -0 -I{} find {} -type f
) | LC_ALL=C sort >"$base/hdrsrcfiles"
(
	cd "$obj"
	if [ -x tools/objtool/objtool ]; then echo tools/objtool/objtool; fi
	find arch/x86/include Module.symvers include scripts -type f
) | LC_ALL=C sort >"$base/hdrobjfiles"
tar -c -f - -C "$tree" -T "$base/hdrsrcfiles" | tar -xf - -C "$hdr"
tar -c -f - -C "$obj" -T "$base/hdrobjfiles" | tar -xf - -C "$hdr"
cp "$obj/.config" "$hdr/.config"
# Clean what both package linters rightly object to: VCS files, kbuild's
# .cmd records and host objects, links to other architectures' device trees, debug symbols
# of the host tools; and only programs keep their execute bit (scripts/atomic/
# has executable data files in the kernel tree).
find "$hdr" \( -name .gitignore -o -name '.*.cmd' -o -name '*.o' \) -delete
# kconfig's record of the Kconfig files it read, with this checkout's paths.
rm -f "$hdr/include/config/auto.conf.cmd"
find "$hdr" -xtype l -delete
find "$hdr" -type f -perm -u+x | while IFS= read -r f; do
	case "$(head -c 4 "$f" | od -An -c | tr -d ' ')" in
	177ELF*) strip --strip-unneeded "$f" ;;
	'#!'*) ;;
	*) chmod a-x "$f" ;;
	esac
done
mkdir -p "$stage/headers/lib/modules/$krel"
ln -s "/usr/src/linux-headers-$krel" "$stage/headers/lib/modules/$krel/build"

echo "$krel" >"$base/KREL"
# What the packages are made of, as one sum: packaging is skipped when it is unchanged.
(cd "$stage" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; find . -type l -printf '%p -> %l\n' | LC_ALL=C sort) |
	sha256sum | cut -d' ' -f1 >"$base/stage.sha256"
touch "$stage/.complete"
ccache_after=$(ccache_hits)
jq -n --arg kernel "$lts" --arg profile "$profile" --arg krel "$krel" --argjson seconds "$build_s" \
	--argjson bzimage "$(stat -c %s "$obj/arch/x86/boot/bzImage")" \
	--argjson modules "$(find "$img/lib/modules/$krel" -name '*.ko' | wc -l)" \
	--arg series "$(grep SERIES_SHA256 "$tree/.zc-series" | cut -d= -f2)" \
	--arg ccache_hits "$(( ${ccache_after:-0} - ${ccache_before:-0} ))" \
	'{kernel: $kernel, profile: $profile, krel: $krel, build_seconds: $seconds,
	  bzimage_bytes: $bzimage, modules: $modules, series_sha256: $series,
	  ccache_hits: ($ccache_hits | tonumber)}' >"$base/build.json"
log kernel "$lts" "built $krel in ${build_s}s: bzImage $(numfmt --to=iec "$(stat -c %s "$obj/arch/x86/boot/bzImage")"), $(find "$img/lib/modules/$krel" -name '*.ko' | wc -l) module(s)"
stage_end ok "$krel ${build_s}s"
