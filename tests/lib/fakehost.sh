# shellcheck shell=bash
# Test scaffolding for the rollout tests without VMs: fake Debian GRUB hosts,
# each a directory (its "root"), reached with the zc_fake connection
# (tests/lib/fakehost/connection_plugins: the local connection, which a host
# can drop off), whose commands (apt-get, dpkg, kexec, systemctl, zc-smoke,
# update-grub, grub-*) are the shims in tests/lib/fakehost/bin. The rollout's
# real playbook, roles and helpers run against them (ZC_ROOT and PATH in
# zc_host_env); only the host's commands are simulated.
#
#   fake_fleet DIR N OLD [AVAILABLE...]   N hosts h1..hN running OLD (the
#       default entry), a GRUB menu, an initrd; DIR/inventory.yml (group
#       fleet), DIR/available (the kernels the "repository" has), DIR/key.gpg
#   fake_rollout DIR [VAR=VALUE...]       scripts/rollout.sh on it, quiet;
#       sets rc, RES (results) and prints the table
#   fh DIR HOST: the root of a host.     fh_krel / fh_default DIR HOST
FAKEHOST_LIB=$TOP/tests/lib/fakehost

fake_fleet() {
	local dir=$1 n=$2 old=$3 i h r c
	shift 3
	mkdir -p "$dir"
	printf '%s\n' "$old" "$@" >"$dir/available"
	echo "not a real key" >"$dir/key.gpg"
	{
		echo "fleet:"
		echo "  vars:"
		echo "    ansible_connection: zc_fake"
		echo "    zc_repo_url: http://repo.invalid/zc"
		echo "    zc_switch_settle: 0"
		echo "  hosts:"
	} >"$dir/inventory.yml"
	for ((i = 1; i <= n; i++)); do
		h=h$i
		r=$dir/$h
		mkdir -p "$r"/var/lib/dpkg && touch "$r/var/lib/dpkg/status"
		mkdir -p "$r"/{bin,boot/grub,proc/sys/kernel/random,sys/kernel/security,etc/default/grub.d,etc/apt/keyrings,etc/apt/sources.list.d,etc/apt/preferences.d,run,var/lib,dev,usr/local/lib}
		for c in apt-get apt-cache dpkg kexec systemctl zc-smoke update-grub grub-editenv grub-set-default grub-reboot findmnt bootctl; do
			ln -sf "$FAKEHOST_LIB/bin/fake" "$r/bin/$c"
		done
		echo "$old" >"$r/proc/sys/kernel/osrelease"
		cat /proc/sys/kernel/random/uuid >"$r/proc/sys/kernel/random/boot_id"
		echo 0 >"$r/proc/sys/kernel/kexec_load_disabled"
		echo 0 >"$r/sys/kernel/kexec_loaded"
		echo 0 >"$r/sys/kernel/kexec_crash_loaded"
		echo "[none] integrity confidentiality" >"$r/sys/kernel/security/lockdown"
		echo "kernel $old" >"$r/boot/vmlinuz-$old"
		echo "initrd $old" >"$r/boot/initrd.img-$old"
		touch "$r/.has-initramfs-tools"
		printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="console=ttyS0 quiet"\n' >"$r/etc/default/grub"
		ZC_ROOT=$r "$r/bin/update-grub"
		echo "BOOT_IMAGE=/boot/vmlinuz-$old root=UUID=1234-fake ro console=ttyS0 quiet" >"$r/proc/cmdline"
		: >"$r/calls.log"
		cat >>"$dir/inventory.yml" <<-EOT
		    $h:
		      ansible_host: $r
		      zc_root: $r
		      zc_helper_dir: $r/usr/local/lib/zc-kernel
		      zc_repo_keyring: $r/etc/apt/keyrings/zc-kernel-archive.gpg
		      zc_repo_sources: $r/etc/apt/sources.list.d/zc-kernel.sources
		      zc_repo_preferences: $r/etc/apt/preferences.d/zc-kernel.pref
		      zc_host_env:
		        ZC_ROOT: $r
		        PATH: $r/bin:/usr/sbin:/usr/bin:/sbin:/bin
		EOT
	done
}
# fake_rpm_host DIR HOST: HOST of a fake_fleet becomes a dnf host (Fedora
# style): dnf, rpm, grubby, grub2-editenv and grub2-reboot instead of apt,
# dpkg, update-grub and grub-*; BLS entries in /boot/loader/entries, an
# initramfs made by "dracut", /etc/sysconfig/kernel with UPDATEDEFAULT=yes
# (the kernel package's kernel-install then makes a new kernel the default).
fake_rpm_host() {
	local dir=$1 h=$2 r c old
	r=$dir/$h
	old=$(cat "$r/proc/sys/kernel/osrelease")
	for c in apt-get apt-cache dpkg update-grub grub-editenv grub-set-default grub-reboot; do rm -f "$r/bin/$c"; done
	for c in dnf rpm grubby grub2-editenv grub2-reboot; do ln -sf "$FAKEHOST_LIB/bin/fake" "$r/bin/$c"; done
	rm -rf "$r/var/lib/dpkg" "$r/boot/grub" "$r/etc/default/grub" "$r/etc/default/grub.d" "$r/boot/initrd.img-$old" "$r/.has-initramfs-tools"
	mkdir -p "$r/usr/lib/sysimage/rpm" "$r/boot/loader/entries" "$r/boot/grub2" "$r/etc/sysconfig" "$r/etc/yum.repos.d" "$r/etc/pki/rpm-gpg" "$r/etc/kernel"
	echo "fakemachineid0123456789abcdef0000" >"$r/etc/machine-id"
	echo "root=UUID=1234-fake ro console=ttyS0 quiet" >"$r/etc/kernel/cmdline"
	echo "initramfs $old" >"$r/boot/initramfs-$old.img"
	printf 'UPDATEDEFAULT=yes\nDEFAULTKERNEL=kernel-core\n' >"$r/etc/sysconfig/kernel"
	ZC_ROOT=$r "$r/bin/grubby" --fake-add-entry "$old"
	ZC_ROOT=$r "$r/bin/grubby" --set-default="/boot/vmlinuz-$old"
	echo "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-$old root=UUID=1234-fake ro console=ttyS0 quiet" >"$r/proc/cmdline"
	: >"$r/calls.log"
	fake_hostvars "$dir" "$h" "zc_yum_repo_file: $r/etc/yum.repos.d/zc-kernel.repo" "zc_yum_key: $r/etc/pki/rpm-gpg/RPM-GPG-KEY-zc-kernel"
}
fh() { echo "$1/$2"; }
fh_krel() { cat "$1/$2/proc/sys/kernel/osrelease"; }
fh_default() { ZC_ROOT=$1/$2 PATH=$1/$2/bin:$PATH "$TOP/rollout/roles/zc_boot_default/files/zc-boot-default" show | sed -n 's/^default=//p'; }

# fake_rollout DIR [VAR=VALUE...]: rollout.sh onto the fake fleet in DIR.
fake_rollout() {
	local dir=$1
	shift
	RES=$dir/results
	rm -rf "$RES"
	run_rc rc env ROLLOUT_QUIET=1 ROLLOUT_RESULTS="$RES" ROLLOUT_STATE="$dir/state" INVENTORY="$dir/inventory.yml" \
		REPO_KEY="$dir/key.gpg" CHANNEL=stable ANSIBLE_CONNECTION_PLUGINS="$FAKEHOST_LIB/connection_plugins" \
		ROLLOUT_BOOT_TIMEOUT=30 ROLLOUT_CONNECT_TIMEOUT=10 "$@" "$TOP/scripts/rollout.sh"
	echo "rollout $* exited $rc:"
	printf '%s\n' "$out" | tail -n 25
}
fake_host_json() { jq -c --arg h "$2" '.hosts[] | select(.host == $h)' "$1/results/summary.json"; }
# fake_hostvars DIR HOST 'key: value'...: more variables for one host
# (host_vars/HOST.yml next to the inventory).
fake_hostvars() {
	local dir=$1 h=$2
	shift 2
	mkdir -p "$dir/host_vars"
	printf '%s\n' "$@" >>"$dir/host_vars/$h.yml"
}
