# shellcheck shell=bash
# The packages: built for every line from one staged tree, lint-clean, with
# the right contents, installable (deb in a fresh bookworm root, rpm in a
# scratch root) and with the same payload in both formats.

PKG_KERNELS="5.10 6.1 6.12"

krel_of() { cat "out/pkg/$1/KREL"; }
deb_of() { ls out/pkg/"$1"/deb/"$2"-"$(krel_of "$1")"_*.deb; }

test_packages_of_all_lines_build_lint_clean() {
	make -s deb rpm KERNELS="$PKG_KERNELS"
	local lts
	for lts in $PKG_KERNELS; do
		[ -f "out/pkg/$lts/KREL" ] || fail "no KREL for $lts"
		deb_of "$lts" linux-image >/dev/null || fail "no linux-image .deb for $lts"
		deb_of "$lts" linux-headers >/dev/null || fail "no linux-headers .deb for $lts"
		ls out/pkg/"$lts"/rpm/kernel-zc-[0-9]*.rpm out/pkg/"$lts"/rpm/kernel-zc-devel-*.rpm >/dev/null
		if grep -E '^[EW]: ' "out/pkg/$lts/deb/lintian.log"; then fail "lintian tags left for $lts"; fi
		grep -q ' 0 errors, 0 warnings' "out/pkg/$lts/rpm/rpmlint.log" || fail "rpmlint for $lts: $(tail -n1 "out/pkg/$lts/rpm/rpmlint.log")"
	done
	ls out/pkg/common/deb/zc-smoke_*.deb out/pkg/common/rpm/zc-smoke-*.rpm >/dev/null
}

test_deb_versions_and_changelog_name_the_series() {
	local d
	d=$(deb_of 5.10 linux-image)
	assert_eq "5.10.223-1+zc1" "$(dpkg-deb -f "$d" Version)" "linux-image 5.10 version"
	assert_eq "5.10.223-zc1" "$(krel_of 5.10)" "5.10 KREL"
	assert_contains "$(dpkg-deb -f "$d" Depends)" "linux-base"
	assert_eq "6.12.117-1~deb12u1+zc1" "$(dpkg-deb -f "$(deb_of 6.12 linux-image)" Version)" "linux-image 6.12 version"
	local x
	x=$(mktemp -d)
	dpkg-deb -x "$d" "$x"
	log=$(zcat "$x/usr/share/doc/linux-image-5.10.223-zc1/changelog.Debian.gz")
	for c in 2cd81161848d 936ced415751 f21a3c480398 0c3936d32f75; do assert_contains "$log" "$c" "changelog"; done
	assert_contains "$log" "EINVAL" "changelog (user-visible change)"
	rm -rf "$x"
}

test_deb_payload_is_the_right_kernel() {
	local lts k x
	for lts in $PKG_KERNELS; do
		k=$(krel_of "$lts")
		x=$(mktemp -d)
		dpkg-deb -x "$(deb_of "$lts" linux-image)" "$x"
		file "$x/boot/vmlinuz-$k" | grep -q "bzImage, version $k " || fail "$lts: /boot/vmlinuz-$k is not a bzImage of $k: $(file "$x/boot/vmlinuz-$k")"
		[ -s "$x/lib/modules/$k/modules.dep" ] || fail "$lts: no modules.dep for $k"
		grep -q 'dummy.ko' "$x/lib/modules/$k/modules.dep" || fail "$lts: modules.dep does not list dummy.ko"
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
	local r
	r=$(ls out/pkg/5.10/rpm/kernel-zc-5*.rpm)
	prov=$(rpm -qp --provides "$r")
	assert_contains "$prov" "installonlypkg(kernel)"
	assert_contains "$prov" "kernel-uname-r = 5.10.223-zc1"
	scripts=$(rpm -qp --scripts "$r")
	assert_contains "$scripts" "kernel-install add 5.10.223-zc1"
	assert_contains "$scripts" "kernel-install remove 5.10.223-zc1"
	assert_contains "$scripts" "depmod -a 5.10.223-zc1"
	assert_contains "$(rpm -qp --changelog "$r")" "f21a3c480398"
	assert_eq "1.zc1" "$(rpm -qp --qf '%{RELEASE}' "$r")" "rpm release"
}

test_rpm_installs_in_scratch_root_with_the_debs_payload() {
	local lts=5.10 k root x
	k=$(krel_of $lts)
	root=$(mktemp -d)
	rpm --root "$root" --dbpath /var/lib/rpm --initdb
	rpm --root "$root" --dbpath /var/lib/rpm --nodeps --noscripts -i out/pkg/$lts/rpm/kernel-zc-*.rpm 2>/dev/null
	rpm --root "$root" --dbpath /var/lib/rpm -q kernel-zc kernel-zc-devel >/dev/null || fail "rpm did not register the packages"
	# Same payload as the two .debs, except the docs and the one file each format adds
	# by convention (rpm: /lib/modules/KREL/vmlinuz for kernel-install).
	x=$(mktemp -d)
	dpkg-deb -x "$(deb_of $lts linux-image)" "$x"
	dpkg-deb -x "$(deb_of $lts linux-headers)" "$x"
	norm() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\.||' | grep -vE '^/usr/share/(doc|lintian|licenses)/' | LC_ALL=C sort); }
	diff <(norm "$x") <(norm "$root" | grep -vE "^/lib/modules/$k/vmlinuz$|^/var/lib/rpm") >"$x.diff" ||
		fail "rpm and deb payloads differ: $(head -n 20 "$x.diff")"
	cmp "$x/boot/vmlinuz-$k" "$root/boot/vmlinuz-$k" || fail "vmlinuz differs between deb and rpm"
	rm -rf "$root" "$x" "$x.diff"
}

test_deb_installs_runs_hooks_and_purges_in_fresh_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (chroot)"
	local k
	k=$(krel_of 5.10)
	ROOT=$(mktemp -d)
	bookworm_root "$ROOT"
	mount -t proc proc "$ROOT/proc"
	trap 'umount "$ROOT/proc" 2>/dev/null || true' RETURN
	cp /etc/apt/sources.list.d/debian.sources "$ROOT/etc/apt/sources.list.d/" 2>/dev/null || true
	# Hooks that record how they were called, as initramfs-tools' and grub's would run.
	for d in preinst postinst prerm postrm; do
		mkdir -p "$ROOT/etc/kernel/$d.d"
		printf '#!/bin/sh\necho "%s $* [$DEB_MAINT_PARAMS]" >>/var/log/zc-hooks.log\n' "$d" >"$ROOT/etc/kernel/$d.d/50-zc-test"
		chmod +x "$ROOT/etc/kernel/$d.d/50-zc-test"
	done
	cp "$(deb_of 5.10 linux-image)" "$ROOT/tmp/"
	in_root apt-get -q -o APT::Sandbox::User=root update >/dev/null
	run_rc rc in_root apt-get -q -y -o APT::Sandbox::User=root install "/tmp/$(basename "$(deb_of 5.10 linux-image)")"
	assert_eq 0 "$rc" "apt-get install of linux-image ($out)"
	hooks=$(cat "$ROOT/var/log/zc-hooks.log")
	assert_contains "$hooks" "preinst $k /boot/vmlinuz-$k [install]"
	assert_contains "$hooks" "postinst $k /boot/vmlinuz-$k [configure"
	[ -s "$ROOT/lib/modules/$k/modules.dep" ] || fail "depmod did not run"
	assert_eq "boot/vmlinuz-$k" "$(readlink "$ROOT/vmlinuz")" "/vmlinuz symlink (linux-update-symlinks)"
	# Never remove the running kernel: pretend it is running.
	printf '#!/bin/sh\necho %s\n' "$k" >"$ROOT/usr/local/bin/uname"
	chmod +x "$ROOT/usr/local/bin/uname"
	run_rc rc chroot "$ROOT" env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin dpkg --purge "linux-image-$k"
	[ "$rc" != 0 ] || fail "the running kernel's package was removed"
	assert_contains "$out" "is the running kernel"
	[ -f "$ROOT/boot/vmlinuz-$k" ] || fail "the running kernel's image is gone"
	rm "$ROOT/usr/local/bin/uname"
	run_rc rc in_root dpkg --purge "linux-image-$k"
	assert_eq 0 "$rc" "dpkg --purge ($out)"
	hooks=$(cat "$ROOT/var/log/zc-hooks.log")
	assert_contains "$hooks" "prerm $k /boot/vmlinuz-$k [remove]"
	assert_contains "$hooks" "postrm $k /boot/vmlinuz-$k [purge]"
	[ ! -e "$ROOT/boot/vmlinuz-$k" ] || fail "vmlinuz left after purge"
	[ ! -e "$ROOT/lib/modules/$k" ] || fail "/lib/modules/$k left after purge: $(ls -A "$ROOT/lib/modules/$k")"
	umount "$ROOT/proc"
	rm -rf "$ROOT"
}

test_distro_profile_configures() {
	run_rc rc env PROFILE=distro CONFIG_ONLY=1 scripts/kernel.sh 5.10
	assert_eq 0 "$rc" "distro profile of 5.10 ($out)"
	assert_contains "$out" "configured 5.10.223-zc1 with profile distro"
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
