# shellcheck shell=bash
# The kernel packages installed as a host installs them, with their scripts:
# rpm with dnf --installroot, deb with apt and dpkg in a debootstrap'd
# bookworm root; two kernels of one line (the 5.10 line: the patched build and
# the unpatched control, -zc1 and -zc0) side by side, upgrades through the
# metapackage, a DKMS module built when the headers arrive, removal with
# nothing left behind, and the running-kernel guard. Plus the signatures:
# modinfo -F signer on every module, sbverify on the image.
# Needs root (chroot) and the smoke packages of 5.10 and control
# (make deb rpm KERNELS="5.10 control").

PI_NEW=5.10 PI_OLD=control

pi_krel() { cat "out/pkg/$1/KREL"; }
# pi_rpm_of LTS: the kernel rpm of LTS (kernel-zc<line>-<profile>-<version>), not its -devel or -debuginfo.
pi_rpm_of() { find "out/pkg/$1/rpm" -name '*.rpm' | grep -E '/kernel-zc[0-9.]+-[a-z0-9]+-[0-9][^/]*\.x86_64\.rpm$'; }
pi_need() { # pi_need [LINE...]: root, and the packages of LINE... (default: both)
	[ "$(id -u)" = 0 ] || skip "needs root (chroot)"
	local l
	[ "$#" -gt 0 ] || set -- "$PI_NEW" "$PI_OLD"
	for l in "$@"; do
		[ -s "out/pkg/$l/KREL" ] && ls out/pkg/"$l"/deb/*.deb out/pkg/"$l"/rpm/*.rpm >/dev/null 2>&1 ||
			make -s deb rpm KERNEL="$l" >/dev/null
	done
}

# pi_root NAME PACKAGES...: a bookworm root in $ROOT with PACKAGES installed
# from the archive, from a tarball cached in $CACHE_DIR/roots (made once).
pi_root() {
	local name=$1 cache tar
	shift
	cache=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zc-kernel}/roots
	tar="$cache/bookworm-$name.tar"
	ROOT=$(mktemp -d)
	if [ -s "$tar" ]; then
		tar -C "$ROOT" -xf "$tar"
	else
		bookworm_root "$ROOT"
		in_root apt-get -q -o APT::Sandbox::User=root update >/dev/null
		in_root apt-get -q -y -o APT::Sandbox::User=root --no-install-recommends install "$@" >"$ROOT.apt.log" 2>&1 ||
			fail "apt-get install $* in the scratch root: $(tail -n 5 "$ROOT.apt.log")"
		in_root apt-get clean
		(flock 8 && [ ! -s "$tar" ] && tar -C "$ROOT" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar") 8>"$tar.lock" || true
	fi
	mount -t proc proc "$ROOT/proc"
	mount --bind /dev "$ROOT/dev"
}
pi_cleanup() {
	umount "$ROOT/dev" 2>/dev/null || true
	umount "$ROOT/proc" 2>/dev/null || true
	rm -rf "$ROOT" "$ROOT.apt.log"
}

# pi_leftovers KREL: every path in $ROOT that still names KREL.
pi_leftovers() {
	(cd "$ROOT" && find boot lib/modules usr/src usr/lib/debug var/lib/dkms -name "*$1*" 2>/dev/null) || true
}

# --- RPM: dnf --installroot, with rpm's scripts -----------------------------

# pi_rpm_stub DIR: an rpm that provides what the kernel packages require and
# the Debian root really has (its dracut, systemd's kernel-install, kmod ...):
# there is no Fedora repository here, and rpm does not know dpkg's database.
pi_rpm_stub() {
	local dir=$1 top
	top=$(mktemp -d)
	mkdir -p "$top/SPECS"
	cat >"$top/SPECS/stub.spec" <<-'EOT'
		Name: zc-test-debian-host
		Version: 1
		Release: 1
		Summary: What the Debian scratch root provides to rpm
		License: GPL-2.0-only
		BuildArch: noarch
		Provides: kmod coreutils diffutils dracut /usr/bin/kernel-install /usr/bin/awk /bin/sh
		Provides: gcc make bison flex findutils perl-interpreter elfutils-libelf-devel openssl-devel
		%description
		Test stub.
		%files
	EOT
	rpmbuild -bb --define "_topdir $top" --define "_rpmdir $dir" "$top/SPECS/stub.spec" >/dev/null 2>&1 ||
		fail "could not build the provides stub rpm"
	find "$dir" -name '*.rpm' -path '*noarch*' -exec mv {} "$dir/" \;
	rm -rf "$top"
}

pi_dnf() {
	dnf -q -y --installroot="$ROOT" --releasever=12 --setopt=reposdir=/dev/null \
		--setopt=cachedir="$ROOT/var/cache/dnf" --setopt=install_weak_deps=False \
		--repofrompath="zc,file://$PI_REPO" --setopt=zc.gpgcheck=0 --setopt=zc.metadata_expire=0 "$@"
}

test_rpm_two_kernels_of_a_line_install_side_by_side_and_erase_clean() {
	pi_need
	command -v dnf >/dev/null && command -v createrepo_c >/dev/null || skip "needs dnf and createrepo_c (make deps)"
	local knew kold name rc
	knew=$(pi_krel "$PI_NEW") kold=$(pi_krel "$PI_OLD")
	name=$(rpm -qp --qf '%{NAME}' "$(pi_rpm_of $PI_NEW)")
	assert_eq "kernel-zc5.10-smoke" "$name" "the RPM name carries line and profile"
	assert_eq "$name" "$(rpm -qp --qf '%{NAME}' "$(pi_rpm_of $PI_OLD)")" "control's RPM name (same line)"
	pi_root rpmhost systemd dracut kmod
	trap pi_cleanup RETURN
	PI_REPO=$(mktemp -d)
	pi_rpm_stub "$PI_REPO"
	cp out/pkg/$PI_OLD/rpm/kernel-zc*.rpm "$PI_REPO/"
	createrepo_c -q "$PI_REPO"
	# by its kernel release, as the rollout installs it on dnf hosts
	run_rc rc pi_dnf install zc-test-debian-host "zc-kernel-release($kold)" "$name-devel"
	assert_eq 0 "$rc" "dnf install of $kold ($out)"
	[ -s "$ROOT/boot/vmlinuz-$kold" ] && [ -s "$ROOT/boot/System.map-$kold" ] && [ -s "$ROOT/boot/config-$kold" ] ||
		fail "no /boot files for $kold: $(ls "$ROOT/boot")"
	[ -s "$ROOT/boot/initramfs-$kold.img" ] || fail "no initramfs made at install (dracut): $(ls "$ROOT/boot")"
	[ -s "$ROOT/lib/modules/$kold/modules.dep" ] || fail "depmod did not run for $kold"
	# The newer build of the line arrives by `dnf upgrade`, next to the old one (installonly).
	cp out/pkg/$PI_NEW/rpm/kernel-zc*.rpm "$PI_REPO/"
	createrepo_c -q --update "$PI_REPO"
	run_rc rc pi_dnf upgrade
	assert_eq 0 "$rc" "dnf upgrade to $knew ($out)"
	assert_eq 2 "$(rpm --root "$ROOT" -q "$name" | wc -l)" "installed $name versions ($(rpm --root "$ROOT" -q "$name"))"
	assert_eq 2 "$(rpm --root "$ROOT" -q "$name-devel" | wc -l)" "installed $name-devel versions"
	[ -s "$ROOT/boot/initramfs-$knew.img" ] && [ -s "$ROOT/boot/vmlinuz-$knew" ] || fail "no /boot files for $knew"
	cmp "$ROOT/lib/modules/$knew/vmlinuz" "$ROOT/boot/vmlinuz-$knew" || fail "/boot/vmlinuz-$knew is not the package's image"
	[ -L "$ROOT/lib/modules/$knew/build" ] && [ -f "$ROOT/usr/src/kernels/$knew/Makefile" ] || fail "devel files are not in /usr/src/kernels/$knew"
	# Erase the old one: nothing of it is left.
	run_rc rc pi_dnf remove "$name-devel-$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$(pi_rpm_of $PI_OLD)")" \
		"$name-$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$(pi_rpm_of $PI_OLD)")"
	assert_eq 0 "$rc" "dnf remove of $kold ($out)"
	assert_eq "" "$(pi_leftovers "$kold")" "files left behind by $kold"
	[ -s "$ROOT/boot/vmlinuz-$knew" ] && [ -s "$ROOT/lib/modules/$knew/modules.dep" ] || fail "erasing $kold damaged $knew"
	rm -rf "$PI_REPO"
}

# --- deb: apt and dpkg in a debootstrap'd root ------------------------------

# pi_apt_repo DIR LINE...: DIR becomes a flat apt repository of those lines' debs.
pi_apt_repo() {
	local dir=$1 l
	shift
	for l in "$@"; do cp out/pkg/"$l"/deb/*.deb "$dir/"; done
	(cd "$dir" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
}
pi_apt() { in_root apt-get -q -y -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0 "$@"; }

test_deb_upgrade_through_metapackage_dkms_and_removal() {
	pi_need
	local knew kold meta hmeta rc
	knew=$(pi_krel "$PI_NEW") kold=$(pi_krel "$PI_OLD")
	meta=linux-image-zc-5.10-smoke hmeta=linux-headers-zc-5.10-smoke
	pi_root debhost dkms gcc make libc6-dev kmod linux-base initramfs-tools
	trap pi_cleanup RETURN
	mkdir -p "$ROOT/srv/zc"
	pi_apt_repo "$ROOT/srv/zc" "$PI_OLD"
	echo "deb [trusted=yes] file:/srv/zc ./" >"$ROOT/etc/apt/sources.list.d/zc.list"
	# A small DKMS module, registered before any zc kernel is there.
	mkdir -p "$ROOT/usr/src/zctest-1.0"
	printf 'obj-m := zctest.o\n' >"$ROOT/usr/src/zctest-1.0/Kbuild"
	cat >"$ROOT/usr/src/zctest-1.0/zctest.c" <<-'EOT'
		// SPDX-License-Identifier: GPL-2.0
		#include <linux/module.h>
		static int __init zctest_init(void) { return 0; }
		static void __exit zctest_exit(void) { }
		module_init(zctest_init);
		module_exit(zctest_exit);
		MODULE_LICENSE("GPL");
	EOT
	cat >"$ROOT/usr/src/zctest-1.0/dkms.conf" <<-'EOT'
		PACKAGE_NAME="zctest"
		PACKAGE_VERSION="1.0"
		BUILT_MODULE_NAME[0]="zctest"
		DEST_MODULE_LOCATION[0]="/updates/dkms"
		AUTOINSTALL="yes"
	EOT
	in_root dkms add zctest/1.0 >/dev/null
	pi_apt update >/dev/null
	run_rc rc pi_apt install "$meta" "$hmeta"
	assert_eq 0 "$rc" "apt install $meta $hmeta (control build, $kold) ($out)"
	[ -s "$ROOT/boot/initrd.img-$kold" ] || fail "no initramfs for $kold (initramfs-tools hook): $(ls "$ROOT/boot")"
	[ -s "$ROOT/lib/modules/$kold/modules.dep" ] || fail "depmod did not run for $kold"
	in_root dkms status -k "$kold" | grep -q 'zctest/1.0.*installed' ||
		fail "dkms did not build zctest for $kold: $(in_root dkms status)"
	# The rebuild of the line arrives by apt upgrade, through the metapackages.
	pi_apt_repo "$ROOT/srv/zc" "$PI_OLD" "$PI_NEW"
	pi_apt update >/dev/null
	# (--with-new-pkgs: what `apt upgrade` and unattended-upgrades do; plain
	# apt-get upgrade keeps back a metapackage whose new kernel is a new
	# package, Debian's linux-image-amd64 as much as ours)
	run_rc rc pi_apt upgrade --with-new-pkgs
	assert_eq 0 "$rc" "apt upgrade ($out)"
	in_root dpkg-query -W -f='${Status}\n' "linux-image-$kold" "linux-image-$knew" | grep -c 'install ok installed' |
		grep -qx 2 || fail "both kernels should be installed after the upgrade: $(in_root dpkg -l 'linux-image-*' | tail -n 4)"
	assert_eq "boot/vmlinuz-$knew" "$(readlink "$ROOT/vmlinuz")" "/vmlinuz after the upgrade"
	assert_eq "boot/vmlinuz-$kold" "$(readlink "$ROOT/vmlinuz.old")" "/vmlinuz.old after the upgrade"
	in_root dkms status -k "$knew" | grep -q 'zctest/1.0.*installed' ||
		fail "dkms did not build zctest when the headers of $knew arrived: $(in_root dkms status)"
	[ -f "$ROOT/lib/modules/$knew/updates/dkms/zctest.ko" ] || fail "no zctest.ko for $knew"
	[ -s "$ROOT/boot/initrd.img-$knew" ] || fail "no initramfs for $knew"
	# Remove the non-running old kernel: nothing of it is left, the new one is intact.
	run_rc rc pi_apt purge "linux-image-$kold" "linux-headers-$kold"
	assert_eq 0 "$rc" "apt purge of $kold ($out)"
	assert_eq "" "$(pi_leftovers "$kold")" "files left behind by $kold"
	[ -f "$ROOT/lib/modules/$knew/updates/dkms/zctest.ko" ] || fail "removing $kold removed $knew's dkms module"
}

test_deb_prerm_guard_chroot_host_and_upgrade() {
	pi_need "$PI_NEW"
	local knew x rc fake
	knew=$(pi_krel "$PI_NEW")
	x=$(mktemp -d)
	dpkg-deb -e "$(ls out/pkg/$PI_NEW/deb/linux-image-"$knew"_*.deb)" "$x/ctl"
	fake="$x/bin"
	mkdir -p "$fake" "$x/hooks/prerm.d"
	printf '#!/bin/sh\necho %s\n' "$knew" >"$fake/uname"
	# Not a container: as on a bare-metal or VM host.
	printf '#!/bin/sh\nexit 1\n' >"$fake/systemd-detect-virt"
	chmod +x "$fake"/*
	# On a host running this kernel: refused.
	run_rc rc env PATH="$fake:$PATH" sh "$x/ctl/prerm" remove
	[ "$rc" != 0 ] || fail "prerm let the running kernel go on a host ($out)"
	assert_contains "$out" "is the running kernel"
	run_rc rc env PATH="$fake:$PATH" ZC_ALLOW_REMOVE_RUNNING=1 sh -c "sed 's|/etc/kernel|$x/hooks|g' '$x/ctl/prerm' | sh -s remove"
	assert_eq 0 "$rc" "prerm with ZC_ALLOW_REMOVE_RUNNING=1 ($out)"
	# Upgrade, deconfigure, failed-upgrade: nothing runs (dkms's hook would remove modules).
	printf '#!/bin/sh\necho HOOK-RAN >&2\n' >"$x/hooks/prerm.d/dkms"
	chmod +x "$x/hooks/prerm.d/dkms"
	for a in upgrade deconfigure failed-upgrade; do
		run_rc rc env PATH="$fake:$PATH" sh -c "sed -e 's|/etc/kernel|$x/hooks|g' -e 's|linux-run-hooks|no-such-linux-run-hooks|' '$x/ctl/prerm' | sh -s $a 5.10.0"
		assert_eq 0 "$rc" "prerm $a"
		assert_not_contains "$out" "HOOK-RAN" "prerm $a"
	done
	run_rc rc env PATH="$fake:$PATH" ZC_ALLOW_REMOVE_RUNNING=1 sh -c "sed -e 's|/etc/kernel|$x/hooks|g' -e 's|linux-run-hooks|no-such-linux-run-hooks|' '$x/ctl/prerm' | sh -s remove"
	assert_contains "$out" "HOOK-RAN" "prerm remove runs the hooks"
	# preinst abort-upgrade: nothing.
	run_rc rc sh -c "sed 's|/etc/kernel|$x/hooks|g; s|/lib/modules|$x/lm|g' '$x/ctl/preinst' | sh -s abort-upgrade 5.10.0"
	assert_eq 0 "$rc" "preinst abort-upgrade"
	[ ! -e "$x/lm" ] || fail "preinst abort-upgrade touched /lib/modules"
	# In a chroot, uname names the host's kernel: the same release is no reason to refuse.
	pi_root debguard kmod linux-base
	trap 'pi_cleanup; rm -rf "$x"' RETURN
	cp "$(ls out/pkg/$PI_NEW/deb/linux-image-"$knew"_*.deb)" "$ROOT/tmp/img.deb"
	run_rc rc in_root dpkg --force-depends -i /tmp/img.deb
	assert_eq 0 "$rc" "dpkg -i ($out)"
	cp "$fake/uname" "$ROOT/usr/local/bin/uname"
	run_rc rc chroot "$ROOT" env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin dpkg --purge --force-depends "linux-image-$knew"
	assert_eq 0 "$rc" "dpkg --purge in a chroot whose host runs the same release ($out)"
	assert_contains "$out" "this is a chroot or container"
	assert_eq "" "$(pi_leftovers "$knew")" "files left behind"
}

# --- signatures ----------------------------------------------------------------

test_every_module_is_signed_with_the_project_key() {
	local d l k x n=0 bad="" ko s cn r
	[ -s "out/pkg/$PI_NEW/KREL" ] || make -s deb rpm KERNEL=$PI_NEW >/dev/null
	cn=$(openssl x509 -inform DER -in out/keys/module/signing_key.x509 -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
	# Every kernel packaged here (every line and profile).
	for d in out/pkg/*/KREL; do
		l=$(basename "$(dirname "$d")")
		k=$(pi_krel "$l")
		x=$(mktemp -d)
		dpkg-deb -x "$(ls out/pkg/"$l"/deb/linux-image-"$k"_*.deb)" "$x"
		grep -q '^CONFIG_MODULE_SIG_ALL=y' "$x/boot/config-$k" ||
			fail "$k is built without CONFIG_MODULE_SIG_ALL=y: its modules are not signed"
		while IFS= read -r ko; do
			n=$((n + 1))
			s=$(modinfo -F signer "$ko")
			[ "$s" = "$cn" ] || bad+=" ${ko#"$x"}(signer '$s')"
		done < <(find "$x/lib/modules/$k" -name '*.ko*')
		# The same modules in the rpm.
		r=$(pi_rpm_of "$l") || fail "$l: no kernel rpm in out/pkg/$l/rpm: its rpm stage failed or did not run (make rpm)"
		r="$TOP/$r"
		mkdir "$x/rpm" && (cd "$x/rpm" && rpm2cpio "$r" | cpio -idm --quiet)
		while IFS= read -r ko; do
			[ "$(modinfo -F signer "$ko")" = "$cn" ] || bad+=" rpm:${ko#"$x/rpm"}"
		done < <(find "$x/rpm/lib/modules/$k" -name '*.ko*')
		rm -rf "$x"
	done
	[ "$n" -gt 0 ] || fail "no module found in the packages"
	assert_eq "" "$bad" "modules not signed by '$cn' ($n checked)"
	echo "$n modules signed by '$cn'"
}

test_image_signature_verifies_with_the_project_certificate() {
	command -v sbverify >/dev/null || skip "sbverify is missing (sbsigntool)"
	local k x r
	[ -s "out/pkg/$PI_NEW/KREL" ] || make -s deb rpm KERNEL=$PI_NEW >/dev/null
	k=$(pi_krel "$PI_NEW")
	x=$(mktemp -d)
	dpkg-deb -x "$(ls out/pkg/$PI_NEW/deb/linux-image-"$k"_*.deb)" "$x/deb"
	r="$TOP/$(pi_rpm_of $PI_NEW)"
	mkdir "$x/rpm" && (cd "$x/rpm" && rpm2cpio "$r" | cpio -idm --quiet)
	sbverify --cert out/keys/secureboot/db.crt "$x/deb/boot/vmlinuz-$k" >/dev/null 2>&1 || fail "the .deb's image does not verify"
	sbverify --cert out/keys/secureboot/db.crt "$x/rpm/lib/modules/$k/vmlinuz" >/dev/null 2>&1 || fail "the .rpm's image does not verify"
	cmp "$x/deb/boot/vmlinuz-$k" "$x/rpm/lib/modules/$k/vmlinuz" || fail "the .deb and .rpm carry different images"
	# ... and only with it: another certificate is refused.
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other -keyout "$x/o.key" -out "$x/o.crt" 2>/dev/null
	if sbverify --cert "$x/o.crt" "$x/deb/boot/vmlinuz-$k" >/dev/null 2>&1; then fail "the image verifies with an unrelated certificate"; fi
	file -b "$x/deb/boot/vmlinuz-$k" | grep -q "version $k " || fail "the signed image is no longer a bzImage of $k"
	rm -rf "$x"
}

# --- debug symbols ---------------------------------------------------------------

# Every -dbg package built (the smoke profile has no debug info; the fleet
# profiles do): gdb reads the DWARF of the vmlinux, finds each stripped
# module's debug file through its .build-id link, and the link kdump-tools
# and crash look for is there. The same tree is in the -debuginfo rpm.
test_debug_symbols_packages_are_usable() {
	local d n=0 k x ko id rel dbgrpm g
	while IFS= read -r d; do
		n=$((n + 1))
		k=$(dpkg-deb -f "$d" Package | sed 's/^linux-image-//; s/-dbg$//')
		x=$(mktemp -d)
		dpkg-deb -x "$d" "$x/dbg"
		dpkg-deb -x "$(ls "$(dirname "$d")"/linux-image-"$k"_*.deb)" "$x/img"
		assert_eq "boot/vmlinux-$k" "$(readlink "$x/dbg/usr/lib/debug/vmlinux-$k")" "/usr/lib/debug/vmlinux-$k link"
		# (gdb's output is read whole: grep -q closing the pipe early would
		# kill gdb with SIGPIPE, a failure under pipefail)
		g=$(gdb -nx -batch -ex 'info line tcp_recvmsg' "$x/dbg/usr/lib/debug/boot/vmlinux-$k" 2>&1)
		grep -q 'Line [0-9]* of "[^"]*tcp.c"' <<<"$g" ||
			fail "gdb finds no line information for tcp_recvmsg in the -dbg vmlinux of $k: $(tail -n 3 <<<"$g")"
		# One stripped module of the image: its debug file through .build-id.
		ko=$(find "$x/img/lib/modules/$k" -name '*.ko' -print -quit)
		[ -n "$ko" ] || fail "no module in linux-image-$k"
		id=$(readelf -n "$ko" | sed -n 's/^ *Build ID: *//p')
		rel=$(readlink "$x/dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug") || fail "no .build-id link for $(basename "$ko") ($id)"
		[ -f "$x/dbg/usr/lib/debug/.build-id/${id:0:2}/$rel" ] || fail ".build-id link $rel of $(basename "$ko") is dangling"
		# gdb follows the .build-id link (verbose: the file it read) and then
		# knows the module's sources, which the stripped module alone has not.
		g=$(gdb -nx -batch -ex 'set verbose on' -ex "set debug-file-directory $x/dbg/usr/lib/debug" -ex "file $ko" -ex 'info sources' 2>&1)
		grep -q "Reading symbols from $x/dbg/usr/lib/debug/lib/modules/$k/" <<<"$g" ||
			fail "gdb does not find the debug file of $(basename "$ko") by its build id: $(head -n 3 <<<"$g")"
		grep -Eq '[^ ]+\.c(,|$)' <<<"$g" || fail "gdb knows no source file of $(basename "$ko") from its debug file: $(tail -n 3 <<<"$g")"
		dbgrpm=$(find "$(dirname "$d")/../rpm" -name "kernel-zc*-debuginfo-*.rpm" -print -quit)
		[ -n "$dbgrpm" ] || fail "no -debuginfo rpm beside $d"
		assert_contains "$(rpm -qpl "$dbgrpm")" "/usr/lib/debug/boot/vmlinux-$k" "-debuginfo rpm"
		rm -rf "$x"
	done < <(find out/pkg/ -path '*/deb/linux-image-*-dbg_*.deb' 2>/dev/null)
	[ "$n" -gt 0 ] || skip "no -dbg package built: the profiles built here have no CONFIG_DEBUG_INFO (the cloud and distro profiles do)"
}

# --- two profiles of one line --------------------------------------------------

# Every pair of profiles of one line that has packages here (e.g. out/pkg/5.10
# and out/pkg/5.10-cloud): no path is shipped by both (deb and rpm), and both
# images install together with dpkg and with rpm.
test_two_profiles_of_a_line_install_side_by_side() {
	local a b pairs=() l p rc fa fb
	for a in out/pkg/*/KREL; do
		l=$(basename "$(dirname "$a")")
		[[ $l == *-* ]] || continue
		[ -s "out/pkg/${l%%-*}/KREL" ] && pairs+=("${l%%-*} $l")
	done
	[ "${#pairs[@]}" -gt 0 ] || skip "no line has packages of two profiles here (e.g. make deb rpm KERNEL=5.10 PROFILE=cloud)"
	[ "$(id -u)" = 0 ] || skip "needs root (chroot)"
	for p in "${pairs[@]}"; do
		read -r a b <<<"$p"
		for fmt in deb rpm; do
			fa=$(mktemp) fb=$(mktemp)
			for f in out/pkg/"$a"/"$fmt"/*."$fmt"; do
				if [ "$fmt" = deb ]; then dpkg-deb -c "$f" | awk '$1 !~ /^d/ {print $6}'; else rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$f" | awk '$1 !~ /^d/ {print $2}'; fi
			done | sed 's|^\./|/|' | LC_ALL=C sort -u >"$fa"
			for f in out/pkg/"$b"/"$fmt"/*."$fmt"; do
				if [ "$fmt" = deb ]; then dpkg-deb -c "$f" | awk '$1 !~ /^d/ {print $6}'; else rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$f" | awk '$1 !~ /^d/ {print $2}'; fi
			done | sed 's|^\./|/|' | LC_ALL=C sort -u >"$fb"
			assert_eq "" "$(LC_ALL=C comm -12 "$fa" "$fb" | head -n 5)" "$fmt paths shipped by both $a and $b"
			rm -f "$fa" "$fb"
		done
		pi_root debhost dkms gcc make libc6-dev kmod linux-base initramfs-tools
		cp "$(ls out/pkg/"$a"/deb/linux-image-"$(pi_krel "$a")"_*.deb)" "$(ls out/pkg/"$b"/deb/linux-image-"$(pi_krel "$b")"_*.deb)" "$ROOT/tmp/"
		run_rc rc in_root sh -c 'dpkg -i /tmp/linux-image-*.deb'
		pi_cleanup
		assert_eq 0 "$rc" "dpkg -i of $a and $b together ($out)"
		ROOT=$(mktemp -d)
		rpm --root "$ROOT" --initdb
		run_rc rc rpm --root "$ROOT" -i --nodeps --noscripts --test "$TOP/$(pi_rpm_of "$a")" "$TOP/$(pi_rpm_of "$b")" \
			"$(find "out/pkg/$a/rpm" -name 'kernel-zc*-devel-*.rpm')" "$(find "out/pkg/$b/rpm" -name 'kernel-zc*-devel-*.rpm')"
		rm -rf "$ROOT"
		assert_eq 0 "$rc" "rpm transaction of $a and $b together (conflicts) ($out)"
	done
}
