#!/usr/bin/env bash
# kernel.sh LTS: build the kernel of one line with $PROFILE (default smoke)
# from the patched tree, once, and stage what both package formats ship:
#   $OUT/build/<profile>/<lts>/stage/image/    boot/{vmlinuz,System.map,config}-KREL, lib/modules/KREL
#   $OUT/build/<profile>/<lts>/stage/headers/  usr/src/linux-headers-KREL, lib/modules/KREL/build
#   $OUT/build/<profile>/<lts>/KREL, build.json, config-drift.txt (Debian-based profiles)
# The kernel release names everything that changes the bytes (lib.sh,
# kernel_identity): upstream version, Debian revision, series revision and
# profile, e.g. 5.10.262-1-zc1-cloud. KBUILD_BUILD_VERSION and
# CONFIG_BUILD_SALT follow the package version, so `uname -v` and build ids
# tell builds apart. SOURCE_DATE_EPOCH and KBUILD_BUILD_{TIMESTAMP,USER,HOST}
# come from ZC_DATE in source.conf, so the same inputs give the same bytes.
# ccache is used when present, with CCACHE_BASEDIR so fresh clones share it.
# While compiling, a progress line every PROGRESS_EVERY seconds (default 30):
# objects compiled out of the expected total (the last full build's count, or
# an estimate from the Makefiles), elapsed time and ETA.
#   CONFIG_ONLY=1  configure and check the profile, do not compile
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-}
profile=${PROFILE:-smoke}
need_tools kernel make gcc bc flex bison openssl rsync jq python3
load_conf "$lts"
tree="$OUT/patched/$lts"
[ -f "$tree/.zc-series" ] || die "no patched tree for $lts: run 'make patch KERNEL=$lts' first"
proffile="$TOP/packaging/configs/$profile.profile"
[ -f "$proffile" ] || die "unknown profile '$profile': no $proffile (profiles: $(cd "$TOP/packaging/configs" && ls ./*.profile | sed 's|./||; s|\.profile||' | tr '\n' ' '))"
PROF_BASE="" PROF_FRAGMENTS=""
parse_kv "$proffile" PROF_
stage_begin "$(kid "$lts" "$profile")" kernel

base="$OUT/build/$profile/$lts"
obj="$base/obj"
mkdir -p "$obj"
kernel_identity "$lts" "$profile"
localversion=$ZC_LOCALVERSION
epoch=$(date -u -d "$CONF_ZC_DATE" +%s) || die "ZC_DATE=$CONF_ZC_DATE in source.conf is not a date"
export SOURCE_DATE_EPOCH=$epoch
KBUILD_BUILD_TIMESTAMP="$(LC_ALL=C date -u -d "@$epoch")"
export KBUILD_BUILD_TIMESTAMP
export KBUILD_BUILD_USER=zc-kernel KBUILD_BUILD_HOST=zc-kernel KBUILD_BUILD_VERSION="$ZC_SALT"
export CCACHE_BASEDIR="$TOP"
# ccache's default 5 GB is about what the lines and profiles here take
# together (compressed: a cloud build with DWARF 0.7 GB, 5.10 distro about
# 2.5 times that, a smoke kernel 0.1 GB): more, so none evicts another.
# Only ccache's default is raised: a size set in ccache.conf or CCACHE_MAXSIZE stays.
if [ -z "${CCACHE_MAXSIZE:-}" ] && ccache -p 2>/dev/null | grep -q '^(default) max_size = '; then
	export CCACHE_MAXSIZE=25G
fi
cc=gcc
if command -v ccache >/dev/null; then cc="ccache gcc"; fi
jobs=${JOBS:-$(nproc)}
# The kernel's make must not inherit the caller's make flags (`make -s check`
# would hide the CC lines that are read below, -j would stack).
# Host programs (shipped in the headers) are built without the absolute path
# of this checkout, so two clones give the same bytes.
kmake=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tree" O="$obj" ARCH=x86_64 "CC=$cc" "LOCALVERSION=$localversion" -j"$jobs"
	"HOSTCFLAGS=-ffile-prefix-map=$TOP/=")

# One configuration or build per build directory at a time; and one kernel
# compile at a time on this machine, whatever `make -j` runs (STAGE_ONLY=1
# re-stages an existing build and CONFIG_ONLY=1 only configures: no compile,
# no machine-wide lock).
KEYS_DIR_MODULE="${KEYS_DIR:-$OUT/keys}/module/signing_key.pem"
exec 8>"$base/.lock"
flock 8
# Everything a build reads, as one sum: when a complete build was made of the
# same inputs, it is up to date without waiting for the machine-wide lock
# (behind another line's 30-minute build) or running make at all.
build_inputs=$( {
	cat "$tree/.zc-series" "$PATCHES_DIR/$lts/source.conf" "$proffile" "$0" "$TOP/scripts/kconfig.sh" "$TOP/scripts/lib.sh"
	[ "$SRC_LINE" = "$lts" ] || cat "$PATCHES_DIR/$SRC_LINE/source.conf"
	IFS=, read -r -a _frs <<<"$PROF_FRAGMENTS"
	for f in "${_frs[@]}" "$profile-$SRC_LINE.config"; do
		[ ! -f "$TOP/packaging/configs/$f" ] || cat "$TOP/packaging/configs/$f"
	done
	echo "$ZC_LOCALVERSION $ZC_SALT $CONF_ZC_DATE $(gcc -dumpfullversion 2>/dev/null) $(pahole --version 2>/dev/null)"
	[ ! -f "$KEYS_DIR_MODULE" ] || sha256sum <"$KEYS_DIR_MODULE"
} | sha256sum | cut -d' ' -f1)
if [ "${STAGE_ONLY:-0}" != 1 ] && [ "${CONFIG_ONLY:-0}" != 1 ] && [ -f "$base/stage/.complete" ] &&
	[ -f "$base/KREL" ] && [ "$(cat "$base/.inputs" 2>/dev/null)" = "$build_inputs" ]; then
	log kernel "$lts" "$(cat "$base/KREL") is up to date (same inputs as its build: $(jq -r '"\(.build_seconds)s, \(.objects_compiled) objects"' "$base/build.json" 2>/dev/null))"
	stage_end ok "$(cat "$base/KREL") (up to date)"
	exit 0
fi
if [ "${STAGE_ONLY:-0}" != 1 ] && [ "${CONFIG_ONLY:-0}" != 1 ]; then
	kernel_build_lock "$lts"
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
	[ -n "${CONF_CONFIG_PACKAGE:-}" ] && [ -n "${CONF_CONFIG_VERSION:-}" ] && [ -n "${CONF_CONFIG_DEB_SHA256:-}" ] ||
		die "$lts: source.conf needs CONFIG_PACKAGE=, CONFIG_VERSION= and CONFIG_DEB_SHA256= for the $profile profile"
	cdeb=$(fetch_pinned_deb "$CONF_CONFIG_PACKAGE" "$CONF_CONFIG_VERSION" amd64 "$CONF_CONFIG_DEB_SHA256")
	dpkg-deb --fsys-tarfile "$cdeb" | tar -xO --wildcards "*/$cfgname" | xz -dc >"$base/debian.config.new" ||
		die "$cdeb has no $cfgname"
	mv "$base/debian.config.new" "$base/debian.config"
	basecfg="$base/debian.config"
	;;
*) basecfg=$PROF_BASE ;;
esac
if [ "${STAGE_ONLY:-0}" = 1 ]; then
	[ -f "$obj/arch/x86/boot/bzImage" ] || die "STAGE_ONLY=1 but $lts was never built in $obj"
else
	log kernel "$lts" "configuring profile $profile ($PROF_BASE + $PROF_FRAGMENTS)"
	# The build's own identity, as a fragment: checked like the others.
	printf '# Generated by kernel.sh: the build salt follows the package version.\nCONFIG_BUILD_SALT="%s"\n' \
		"$ZC_SALT" >"$base/identity.config"
	fragments+=("$base/identity.config")
	if [[ $PROF_BASE == debian:* ]]; then
		# Debian's configurations enable BTF: without pahole 5.10 and 6.1 fail
		# to link, and 6.12 silently drops it.
		need_tools kernel pahole dpkg-deb xz
		export DRIFT_REPORT="$base/config-drift.txt" DRIFT_ALLOW="$TOP/packaging/configs/${PROF_DRIFT_ALLOW:-toolchain.drift}"
	fi
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
# Modules are signed with the project's persistent key (make keys), never a
# random per-build one: the same inputs give the same bytes.
if [ "${STAGE_ONLY:-0}" != 1 ] && grep -q '^CONFIG_MODULE_SIG_ALL=y' "$obj/.config"; then
	mkey=$("$TOP/scripts/module-key.sh")
	# Since 5.16 certs/Makefile regenerates certs/signing_key.pem on every
	# build (FORCE, if_changed) when CONFIG_MODULE_SIG_KEY names it, which
	# would replace the project key with a random "Build time autogenerated
	# kernel key". There the key goes under another name, given to kbuild on
	# its command line only: the .config (and so every object and ccache
	# entry) stays as it is.
	if grep -q 'signing_key.pem: $(obj)/x509.genkey FORCE' "$tree/certs/Makefile"; then
		install -D -m 0600 "$mkey" "$obj/certs/zc-module-key.pem"
		kmake+=("CONFIG_MODULE_SIG_KEY=certs/zc-module-key.pem")
	fi
	cmp -s "$mkey" "$obj/certs/signing_key.pem" || install -D -m 0600 "$mkey" "$obj/certs/signing_key.pem"
	cmp -s "${mkey%.pem}.x509" "$obj/certs/signing_key.x509" || install -D -m 0644 "${mkey%.pem}.x509" "$obj/certs/signing_key.x509"
fi
t0=$SECONDS
ccache_hits() { ccache -s 2>/dev/null | awk '/^ *Hits:/ {print $2; exit}' || true; }
ccache_before=$(ccache_hits)
log kernel "$lts" "building $krel (profile $profile, -j$jobs, CC=$cc)"
stats="$CACHE_DIR/build-stats/$profile-$SRC_LINE.objects"
# A build from an object directory with no kernel object in it (kconfig's own
# host programs do not count) compiles everything: its count is the expected
# total of the next first build.
fresh=0
[ -e "$obj/init/main.o" ] || fresh=1
if [ "${STAGE_ONLY:-0}" = 1 ]; then
	: # built before
else
	if [ -s "$stats" ]; then expect=$(cat "$stats") expect_how="last full build"
	else expect=$("$TOP/scripts/kobjects-estimate.sh" "$tree" "$obj/.config") expect_how="estimate"; fi
	: >"$base/build.log"
	"${kmake[@]}" bzImage modules >"$base/build.log" 2>&1 &
	kpid=$!
	build_progress "$lts" "$profile" "$base/build.log" "$expect" "$expect_how" "$kpid" &
	ppid=$!
	krc=0
	wait "$kpid" || krc=$?
	kill "$ppid" 2>/dev/null || true
	wait "$ppid" 2>/dev/null || true
	if [ "$krc" != 0 ]; then
		grep -E 'error|Error' "$base/build.log" | tail -n 15 >&2 || true
		tail -n 15 "$base/build.log" >&2
		if grep -q 'No space left on device' "$base/build.log"; then
			die "the $lts kernel build ran out of disk space in $obj ($(df -h --output=avail "$obj" | tail -n1 | tr -d ' ') free): free some space and run it again"
		fi
		die "the $lts kernel does not build (full log: $base/build.log)"
	fi
fi
build_s=$((SECONDS - t0))
objects=$(grep -cE '^  CC ' "$base/build.log" || true)
if [ "$fresh" = 1 ] && [ "${STAGE_ONLY:-0}" != 1 ] && [ "$objects" -gt 0 ]; then
	mkdir -p "${stats%/*}"
	echo "$objects" >"$stats.new" && mv "$stats.new" "$stats"
fi
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
	echo "$build_inputs" >"$base/.inputs"
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
echo "$build_inputs" >"$base/.inputs"
ccache_after=$(ccache_hits)
jq -n --arg kernel "$lts" --arg profile "$profile" --arg krel "$krel" --argjson seconds "$build_s" \
	--argjson bzimage "$(stat -c %s "$obj/arch/x86/boot/bzImage")" \
	--argjson modules "$(find "$img/lib/modules/$krel" -name '*.ko' | wc -l)" \
	--arg kver "$(make -s -C "$tree" kernelversion)" --arg pkgver "$ZC_PKGVER" \
	--argjson objects "$objects" --argjson fresh "$fresh" \
	--arg series "$(grep SERIES_SHA256 "$tree/.zc-series" | cut -d= -f2)" \
	--arg ccache_hits "$(( ${ccache_after:-0} - ${ccache_before:-0} ))" \
	'{kernel: $kernel, profile: $profile, krel: $krel, kver: $kver, pkgver: $pkgver,
	  build_seconds: $seconds, objects_compiled: $objects, from_scratch: ($fresh == 1),
	  bzimage_bytes: $bzimage, modules: $modules, series_sha256: $series,
	  ccache_hits: ($ccache_hits | tonumber)}' >"$base/build.json"
log kernel "$lts" "built $krel in ${build_s}s: bzImage $(numfmt --to=iec "$(stat -c %s "$obj/arch/x86/boot/bzImage")"), $(find "$img/lib/modules/$krel" -name '*.ko' | wc -l) module(s)"
stage_end ok "$krel ${build_s}s"
