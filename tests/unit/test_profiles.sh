# shellcheck shell=bash
# Kernel identity and the fleet profiles: the release names everything that
# changes the bytes; Debian's configurations are configured with every
# fragment option verified and the drift from Debian's file explained; the
# ABI comparison on fixture Module.symvers files.

# ident LTS PROFILE [VERSION]: "KREL PKGVER SALT" from lib.sh, optionally
# with another source version (a copy of the line's pins).
ident() {
	bash -c '. scripts/lib.sh
		lts=$1 profile=$2 ver=${3:-}
		if [ -n "$ver" ]; then
			d=$(mktemp -d); trap "rm -rf $d" EXIT
			cp -r "patches/$lts" "$d/"
			sed -i "s/^VERSION=.*/VERSION=$ver/" "$d/$lts/source.conf"
			PATCHES_DIR=$d
		fi
		load_conf "$lts"; kernel_identity "$lts" "$profile"
		echo "${CONF_VERSION%-*}$ZC_LOCALVERSION $ZC_PKGVER $ZC_SALT"' _ "$@"
}

test_identity_names_version_revision_series_and_profile() {
	local v
	v=$(sed -n 's/^VERSION=//p' patches/5.10/source.conf)
	read -r k p s <<<"$(ident 5.10 cloud)"
	assert_eq "${v%-*}-${v##*-}-zc1-cloud" "$k" "5.10 cloud release"
	assert_eq "$v+zc1" "$p" "5.10 package version"
	assert_eq "$v+zc1-cloud" "$s" "5.10 cloud build salt"
	# the profile is part of the release: two profiles install side by side
	read -r k2 _ s2 <<<"$(ident 5.10 smoke)"
	[ "$k" != "$k2" ] || fail "cloud and smoke share the release $k"
	[ "$s" != "$s2" ] || fail "cloud and smoke share the build salt $s"
	# the Debian revision is part of it: 6.1.192-2 and -3 are two kernels
	read -r a _ <<<"$(ident 6.1 cloud 6.1.192-2)"
	read -r b _ <<<"$(ident 6.1 cloud 6.1.192-3)"
	assert_eq 6.1.192-2-zc1-cloud "$a" "6.1.192-2"
	assert_eq 6.1.192-3-zc1-cloud "$b" "6.1.192-3"
	# a '~' in the revision gives a valid release and package name
	read -r c _ <<<"$(ident 6.12 cloud 6.12.117-1~deb12u1)"
	assert_eq 6.12.117-1-deb12u1-zc1-cloud "$c" "6.12 with ~ in its revision"
	[[ linux-image-$c =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || fail "linux-image-$c is not a valid Debian package name"
	# the control: same source, series revision 0
	read -r d _ <<<"$(ident control smoke)"
	assert_eq "${v%-*}-${v##*-}-zc0-smoke" "$d" "control release"
}

test_identity_refuses_bad_profile_names() {
	run_rc rc bash -c '. scripts/lib.sh; load_conf 5.10; kernel_identity 5.10 "Cloud_1"'
	[ "$rc" != 0 ] || fail "a profile name with capitals and _ was accepted"
	assert_contains "$out" "bad profile name"
}

test_profiles_declare_their_channels() {
	local f c
	for f in packaging/configs/*.profile; do
		c=$(sed -n 's/^CHANNELS=//p' "$f")
		case "$c" in lab | fleet) ;; *) fail "$f: CHANNELS=$c (lab or fleet)" ;; esac
		if grep -q '^BASE=debian:' "$f"; then
			assert_eq fleet "$c" "$f: a Debian-config profile is a fleet profile"
			grep -qE '^ABI_FLAVOUR=[a-z0-9-]+$' "$f" || fail "$f: no ABI_FLAVOUR="
		else
			assert_eq lab "$c" "$f: a test profile may only reach the lab"
		fi
	done
}

# configure LTS PROFILE: CONFIG_ONLY=1 kernel.sh into a private OUT.
configure() {
	local lts=$1 profile=$2
	[ -f "out/patched/$lts/.zc-series" ] || make -s patch KERNEL="$lts" >/dev/null
	mkdir -p "$W/out/patched"
	ln -sfn "$TOP/out/patched/$lts" "$W/out/patched/$lts"
	run_rc rc env OUT="$W/out" PROFILE="$profile" CONFIG_ONLY=1 scripts/kernel.sh "$lts"
}

test_cloud_and_distro_configure_with_drift_explained() {
	W=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$W'" EXIT
	local lts p d
	for lts in 5.10 6.1 6.12; do
		for p in cloud distro; do
			configure "$lts" "$p"
			assert_eq 0 "$rc" "configure $lts $p"
			assert_contains "$out" "configured $(bash -c '. scripts/lib.sh; expected_krel "$@"' _ "$lts" "$p") with profile $p"
			d="$W/out/build/$p/$lts/config-drift.txt"
			[ -s "$d" ] || fail "no drift report $d"
			head -n1 "$d" | grep -q '; 0 unexplained$' || fail "$lts $p drift: $(head -n1 "$d")"
			grep -q '^CONFIG_MODULE_SIG_ALL: .*(fragment debian-build.config)$' "$d" ||
				fail "$lts $p: module signing is not in the drift report"
			grep -q '^CONFIG_BUILD_SALT=".*-'"$p"'"$' "$W/out/build/$p/$lts/obj/.config" ||
				fail "$lts $p: CONFIG_BUILD_SALT does not follow the package version"
			grep -q '^CONFIG_DEBUG_INFO_BTF=y' "$W/out/build/$p/$lts/obj/.config" ||
				fail "$lts $p: BTF dropped (is pahole, package dwarves, installed?)"
		done
	done
}

test_unexplained_drift_fails_and_is_named() {
	W=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$W'" EXIT
	configure 5.10 cloud
	assert_eq 0 "$rc" "configure 5.10 cloud"
	local obj="$W/out/build/cloud/5.10/obj" dcfg="$W/out/build/cloud/5.10/debian.config"
	# Debian's config with one option olddefconfig will change (an invisible
	# symbol set to y) must fail, naming it.
	sed 's/^CONFIG_TCP_CONG_CUBIC=.*/CONFIG_TCP_CONG_CUBIC=m/' "$dcfg" >"$W/changed.config"
	echo '# CONFIG_HAVE_ARCH_KASAN is not set' >>"$W/changed.config"
	run_rc rc env DRIFT_REPORT="$W/drift.txt" DRIFT_ALLOW=packaging/configs/toolchain.drift \
		scripts/kconfig.sh out/patched/5.10 "$W/obj2" "$W/changed.config" "$TOP/packaging/configs/debian-build.config"
	[ "$rc" != 0 ] || fail "an unexplained drift was accepted"
	assert_contains "$out" "CONFIG_HAVE_ARCH_KASAN: debian=n build=y  (UNEXPLAINED)"
	grep -q 'UNEXPLAINED' "$W/drift.txt" || fail "the drift report does not name it"
	# a fragment option that olddefconfig drops fails too
	printf "# test\nCONFIG_KASAN_SW_TAGS=y\n" >"$W/bad.config"
	run_rc rc scripts/kconfig.sh out/patched/5.10 "$W/obj3" "$dcfg" "$W/bad.config"
	[ "$rc" != 0 ] || fail "a dropped fragment option was accepted"
	assert_contains "$out" "CONFIG_KASAN_SW_TAGS: asked y in bad.config, got not set"
	[ -d "$obj" ] || true
}

# symvers FILE LINE...: a Module.symvers fixture.
symvers() {
	local f=$1
	shift
	printf '%s\n' "$@" | tr '|' '\t' >"$f"
}

test_abi_diff_on_fixtures() {
	W=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$W'" EXIT
	symvers "$W/ref" '0x11111111|tcp_recvmsg|vmlinux|EXPORT_SYMBOL|' '0x22222222|tcp_mmap|vmlinux|EXPORT_SYMBOL|' \
		'0x33333333|nvme_foo|drivers/nvme/host/nvme-core|EXPORT_SYMBOL_GPL|NVME'
	# identical
	run_rc rc scripts/abi-diff.sh "$W/ref" "$W/ref" "$W/same" same
	assert_eq 0 "$rc" "identical files"
	jq -e '.counts == {reference: 3, ours: 3, added: 0, removed: 0, changed: 0, moved: 0} and .verdict == "pass"' \
		"$W/same/abi.json" >/dev/null || fail "identical: $(cat "$W/same/abi.json")"
	# added only: passes, listed
	cp "$W/ref" "$W/added"
	printf '0x44444444\tnew_sym\tvmlinux\tEXPORT_SYMBOL\t\n' >>"$W/added"
	run_rc rc scripts/abi-diff.sh "$W/ref" "$W/added" "$W/a" added
	assert_eq 0 "$rc" "an added symbol"
	jq -e '.added == ["new_sym"] and .verdict == "pass"' "$W/a/abi.json" >/dev/null || fail "added: $(cat "$W/a/abi.json")"
	# removed: fails, named
	head -n 2 "$W/ref" >"$W/removed"
	run_rc rc scripts/abi-diff.sh "$W/ref" "$W/removed" "$W/r" removed
	assert_eq 1 "$rc" "a removed symbol"
	assert_contains "$out" "removed: nvme_foo (drivers/nvme/host/nvme-core, EXPORT_SYMBOL_GPL)"
	# CRC changed, namespace changed, export type changed: each fails, named
	symvers "$W/changed" '0x99999999|tcp_recvmsg|vmlinux|EXPORT_SYMBOL|' '0x22222222|tcp_mmap|vmlinux|EXPORT_SYMBOL_GPL|' \
		'0x33333333|nvme_foo|drivers/nvme/host/nvme-core|EXPORT_SYMBOL_GPL|'
	run_rc rc scripts/abi-diff.sh "$W/ref" "$W/changed" "$W/c" changed
	assert_eq 1 "$rc" "changed symbols"
	assert_contains "$out" "changed: tcp_recvmsg crc 0x11111111 -> 0x99999999"
	assert_contains "$out" "changed: tcp_mmap type EXPORT_SYMBOL -> EXPORT_SYMBOL_GPL"
	assert_contains "$out" "changed: nvme_foo namespace NVME -> (none)"
	jq -e '.counts.changed == 3 and .verdict == "fail"' "$W/c/abi.json" >/dev/null || fail "changed: $(cat "$W/c/abi.json")"
	# not a Module.symvers: a clear error
	echo 'garbage' >"$W/garbage"
	run_rc rc scripts/abi-diff.sh "$W/ref" "$W/garbage" "$W/g"
	assert_eq 2 "$rc" "garbage input"
	assert_contains "$out" "not a Module.symvers line"
}
