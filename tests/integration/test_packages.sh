# shellcheck shell=bash
# The packages: built for every line from one staged tree, lint-clean, with
# the right contents, installable (deb in a fresh bookworm root, rpm in a
# scratch root) and with the same payload in both formats.

PKG_KERNELS="5.10 6.1 6.12"

krel_of() { cat "out/pkg/$1/KREL"; }
deb_of() { ls out/pkg/"$1"/deb/"$2"-"$(krel_of "$1")"_*.deb; }
# rpm_of LTS [SUFFIX]: kernel-zc<line>-<profile>[-SUFFIX]-<version>.x86_64.rpm
rpm_of() {
	find "out/pkg/$1/rpm" -name '*.rpm' | grep -E "/kernel-zc[0-9.]+-[a-z0-9]+${2:+-$2}-[0-9][^/]*\.x86_64\.rpm\$"
}
# pin LTS KEY: a value of patches/<lts>/source.conf.
pin() { sed -n "s/^$2=//p" "patches/$1/source.conf"; }

test_packages_of_all_lines_build_lint_clean() {
	make -s deb rpm KERNELS="$PKG_KERNELS"
	local lts
	for lts in $PKG_KERNELS; do
		[ -f "out/pkg/$lts/KREL" ] || fail "no KREL for $lts"
		deb_of "$lts" linux-image >/dev/null || fail "no linux-image .deb for $lts"
		deb_of "$lts" linux-headers >/dev/null || fail "no linux-headers .deb for $lts"
		rpm_of "$lts" >/dev/null || fail "no kernel rpm for $lts"
		# One name per line and profile: dnf never takes another line for an upgrade.
		assert_eq "kernel-zc$lts-smoke" "$(rpm -qp --qf '%{NAME}' "$(rpm_of "$lts")")" "rpm name of $lts"
		rpm_of "$lts" devel >/dev/null || fail "no kernel devel rpm for $lts"
		ls out/pkg/"$lts"/deb/linux-image-zc-"$lts"-smoke_*.deb out/pkg/"$lts"/deb/linux-headers-zc-"$lts"-smoke_*.deb >/dev/null ||
			fail "no metapackages for $lts"
		if grep -E '^[EW]: ' "out/pkg/$lts/deb/lintian.log"; then fail "lintian tags left for $lts"; fi
		grep -q ' 0 errors, 0 warnings' "out/pkg/$lts/rpm/rpmlint.log" || fail "rpmlint for $lts: $(tail -n1 "out/pkg/$lts/rpm/rpmlint.log")"
	done
	ls out/pkg/common/deb/zc-smoke_*.deb out/pkg/common/rpm/zc-smoke-*.rpm >/dev/null
}

test_deb_versions_and_changelog_name_the_series() {
	local d k
	d=$(deb_of 5.10 linux-image)
	k="$(pin 5.10 VERSION | sed 's/~/-/')-zc$(pin 5.10 ZC_REVISION)-smoke"
	assert_eq "$(pin 5.10 VERSION)+zc$(pin 5.10 ZC_REVISION)" "$(dpkg-deb -f "$d" Version)" "linux-image 5.10 version"
	assert_eq "$k" "$(krel_of 5.10)" "5.10 KREL"
	assert_contains "$(dpkg-deb -f "$d" Depends)" "linux-base"
	assert_contains "$(dpkg-deb -f "$d" Depends)" "initramfs-tools"
	assert_eq "$(pin 6.12 VERSION)+zc$(pin 6.12 ZC_REVISION)" "$(dpkg-deb -f "$(deb_of 6.12 linux-image)" Version)" "linux-image 6.12 version"
	# The metapackage follows the newest build of its line and profile.
	assert_eq "linux-image-$k (= $(dpkg-deb -f "$d" Version))" \
		"$(dpkg-deb -f out/pkg/5.10/deb/linux-image-zc-5.10-smoke_*.deb Depends)" "metapackage Depends"
	local x
	x=$(mktemp -d)
	dpkg-deb -x "$d" "$x"
	log=$(zcat "$x/usr/share/doc/linux-image-$k/changelog.Debian.gz")
	for c in 2cd81161848d 936ced415751 f21a3c480398 0c3936d32f75; do assert_contains "$log" "$c" "changelog"; done
	assert_contains "$log" "EINVAL" "changelog (user-visible change)"
	# Cumulative: every older entry of the line is kept, in both formats.
	local v
	for v in $(sed -n 's/^\([0-9][^ ]*\) [0-9-]*$/\1/p' packaging/deb/kernel/history/5.10); do
		assert_contains "$log" "($v)" "debian changelog (kept entry)"
		assert_contains "$(rpm -qp --changelog "$(rpm_of 5.10)")" "- ${v%%-*}-" "rpm changelog (kept entry $v)"
	done
	rm -rf "$x"
}

test_deb_payload_is_the_right_kernel() {
	local lts k x
	for lts in $PKG_KERNELS; do
		k=$(krel_of "$lts")
		x=$(mktemp -d)
		dpkg-deb -x "$(deb_of "$lts" linux-image)" "$x"
		file "$x/boot/vmlinuz-$k" | grep -q "bzImage, version $k " || fail "$lts: /boot/vmlinuz-$k is not a bzImage of $k: $(file "$x/boot/vmlinuz-$k")"
		# depmod's outputs are made by postinst, not shipped (Debian's no-depmod).
		[ ! -e "$x/lib/modules/$k/modules.dep" ] || fail "$lts: modules.dep is shipped"
		grep -q 'dummy.ko' "$x/lib/modules/$k/modules.order" || fail "$lts: modules.order does not list dummy.ko"
		grep -q "^CONFIG_KEXEC_FILE=y" "$x/boot/config-$k" || fail "$lts: config lacks KEXEC_FILE"
		[ -f "$x/boot/System.map-$k" ] || fail "$lts: no System.map"
		rm -rf "$x"
	done
}

test_zc_smoke_package_runs() {
	local x
	make -s tools-pkg
	x=$(mktemp -d)
	dpkg-deb -x out/pkg/common/deb/zc-smoke_*.deb "$x/deb"
	"$x/deb/usr/bin/zc-smoke" --only inq_zero_v4,copybuf_300_v4,skip_hint_300_v4 >/dev/null || fail "zc-smoke from the .deb failed on this kernel"
	"$x/deb/usr/bin/zc-rpc-bench" --help >/dev/null
	[ -f "$x/deb/usr/share/man/man1/zc-smoke.1.gz" ] || fail "no man page in the .deb"
	mkdir -p "$x/rpm"
	(cd "$x/rpm" && rpm2cpio "$TOP"/out/pkg/common/rpm/zc-smoke-*.rpm | cpio -idm --quiet)
	"$x/rpm/usr/bin/zc-smoke" --only inq_zero_v6 >/dev/null || fail "zc-smoke from the .rpm failed"
	rm -rf "$x"
}

test_rpm_metadata_follows_kernel_conventions() {
	local r k prov scripts
	r=$(rpm_of 5.10)
	k=$(krel_of 5.10)
	assert_eq "kernel-zc5.10-smoke" "$(rpm -qp --qf '%{NAME}' "$r")" "rpm name (line and profile)"
	prov=$(rpm -qp --provides "$r")
	assert_contains "$prov" "installonlypkg(kernel)"
	assert_contains "$(rpm -qp --requires "$r")" "dracut"
	assert_contains "$(rpm -qp --requires "$r")" "/usr/bin/kernel-install"
	assert_contains "$(rpm -qp --requires "$(rpm_of 5.10 devel)")" "gcc"
	scripts=$(rpm -qp --scripts "$r")
	assert_contains "$scripts" "kernel-install add $k"
	assert_contains "$scripts" "kernel-install remove $k"
	assert_contains "$scripts" "depmod -a $k"
	# /boot, the initramfs and depmod's outputs are %ghost; no file is shared between versions.
	local ghosts
	ghosts=$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$r" | awk '$1 ~ /g/ {print $2}')
	for f in "/boot/vmlinuz-$k" "/boot/initramfs-$k.img" "/boot/System.map-$k" "/lib/modules/$k/modules.dep"; do
		assert_contains "$ghosts" "$f" "%ghost files"
	done
	if rpm -qpl "$r" "$(rpm_of 5.10 devel)" | grep -v "$k" | grep -vE '^/(boot|lib/modules|usr/src/kernels)$'; then
		fail "files whose path does not carry the release $k (they would conflict between versions)"
	fi
	assert_contains "$(rpm -qpl "$(rpm_of 5.10 devel)")" "/usr/src/kernels/$k/Makefile"
	assert_contains "$(rpm -qp --changelog "$r")" "f21a3c480398"
	assert_eq "$(pin 5.10 VERSION | sed 's/.*-//').zc$(pin 5.10 ZC_REVISION).smoke" "$(rpm -qp --qf '%{RELEASE}' "$r")" "rpm release"
}

test_rpm_carries_the_debs_payload() {
	local lts=5.10 k root x r1 r2
	k=$(krel_of $lts)
	root=$(mktemp -d)
	r1="$TOP/$(rpm_of $lts)" r2="$TOP/$(rpm_of $lts devel)"
	(cd "$root" && for r in "$r1" "$r2"; do rpm2cpio "$r" | cpio -idm --quiet; done)
	# Same payload as the two .debs, in each format's layout: the rpm keeps
	# the image, System.map and config in /lib/modules/KREL (/boot is %ghost)
	# and the headers in /usr/src/kernels/KREL.
	x=$(mktemp -d)
	dpkg-deb -x "$(deb_of $lts linux-image)" "$x"
	dpkg-deb -x "$(deb_of $lts linux-headers)" "$x"
	norm_deb() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\.||' | grep -vE '^/usr/share/(doc|lintian)/' |
		sed -e "s|^/boot/vmlinuz-$k\$|/lib/modules/$k/vmlinuz|" -e "s|^/boot/System.map-$k\$|/lib/modules/$k/System.map|" \
			-e "s|^/boot/config-$k\$|/lib/modules/$k/config|" -e "s|^/usr/src/linux-headers-$k|/usr/src/kernels/$k|" | LC_ALL=C sort); }
	norm_rpm() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\.||' | grep -vE '^/usr/share/licenses/' | LC_ALL=C sort -u); }
	diff <(norm_deb "$x") <(norm_rpm "$root") >"$x.diff" || fail "rpm and deb payloads differ: $(head -n 20 "$x.diff")"
	cmp "$x/boot/vmlinuz-$k" "$root/lib/modules/$k/vmlinuz" || fail "vmlinuz differs between deb and rpm"
	rm -rf "$root" "$x" "$x.diff"
}

test_distro_profile_configures() {
	run_rc rc env PROFILE=distro CONFIG_ONLY=1 scripts/kernel.sh 5.10
	assert_eq 0 "$rc" "distro profile of 5.10 ($out)"
	assert_contains "$out" "configured $(pin 5.10 VERSION)-zc$(pin 5.10 ZC_REVISION)-distro with profile distro"
	grep -q '^CONFIG_TCP_CONG_BBR=m' out/build/distro/5.10/obj/.config || fail "not Debian's configuration"
}

test_profile_option_dropped_by_olddefconfig_is_named() {
	local obj frag
	obj=$(mktemp -d)
	frag=$(mktemp --suffix=.config)
	printf 'CONFIG_NET=y\nCONFIG_DMIID=y\n' >"$frag"
	run_rc rc scripts/kconfig.sh out/patched/5.10 "$obj" tinyconfig "$frag"
	[ "$rc" != 0 ] || fail "a silently dropped option was accepted"
	assert_contains "$out" "CONFIG_DMIID: asked y in $(basename "$frag"), got not set"
	rm -rf "$obj" "$frag"
}

# Every lintian override and every rpmlint filter is still needed: lintian
# reports no unused override, and each rpmlint filter that names a package
# built here matches a line of rpmlint's unfiltered output.
test_lint_overrides_and_filters_are_all_used() {
	local debs rpms cfg rawf unused
	mapfile -t debs < <(find out/pkg/ -path '*/deb/*.deb')
	mapfile -t rpms < <(find out/pkg/ -path '*/rpm/*.rpm')
	[ "${#debs[@]}" -gt 0 ] && [ "${#rpms[@]}" -gt 0 ] || make -s deb rpm KERNEL=5.10 >/dev/null
	mapfile -t debs < <(find out/pkg/ -path '*/deb/*.deb')
	mapfile -t rpms < <(find out/pkg/ -path '*/rpm/*.rpm')
	unused=$(lintian -I --show-overrides "${debs[@]}" 2>&1 | grep 'unused-override' || true)
	assert_eq "" "$unused" "unused lintian overrides"
	cfg=$(mktemp --suffix=.toml)
	grep -vE "^\s*('|Filters|\])" packaging/rpm/rpmlint.toml >"$cfg"
	# (rpmlint's output goes through a file: with a -debuginfo package it
	# is larger than one environment string may be)
	rawf=$(mktemp)
	rpmlint -c "$cfg" "${rpms[@]}" >"$rawf" 2>&1 || true
	rm -f "$cfg"
	unused=$(RAWF="$rawf" NAMES="$(for r in "${rpms[@]}"; do rpm -qp --qf '%{NAME}.%{ARCH}\n' "$r"; done)" python3 -c '
import os, re, tomllib
filters = tomllib.load(open("packaging/rpm/rpmlint.toml", "rb"))["Filters"]
raw, names = open(os.environ["RAWF"]).read(), os.environ["NAMES"].split()
for f in filters:
    pkg = re.match(r"^(.*?\\\.x86_64):", f)
    if pkg and not any(re.match(pkg.group(1) + "$", n) for n in names):
        continue  # names a package not built here (e.g. -debuginfo of a profile without debug info)
    if not re.search(f, raw, re.M):
        print(f)
')
	rm -f "$rawf"
	assert_eq "" "$unused" "rpmlint filters that match nothing"
}
