# shellcheck shell=bash
# The rollout's logic without VMs: the real playbook, roles and host helpers
# (rollout/) driven by scripts/rollout.sh against fake Debian GRUB hosts
# (tests/lib/fakehost.sh: a directory per host, the zc_fake connection, shims
# for apt-get, dpkg, kexec, systemctl, zc-smoke, update-grub and grub-*).
# What a kexec or a reboot boots follows GRUB's and the kernel's rules (see
# tests/lib/fakehost/bin/fake). The same behaviours on qemu VMs are in
# test_rollout.sh / test_rollout_lab.sh.

# shellcheck source=tests/lib/fakehost.sh
. "$TOP/tests/lib/fakehost.sh"

OLDK=5.10.262-1-zc0-cloud
NEWK=5.10.262-1-zc1-cloud

fake_tools() {
	local t
	for t in ansible-playbook ansible-inventory jq; do command -v "$t" >/dev/null || skip "$t is missing (make deps)"; done
}
# The longer ones (1-3 min each on 2 busy cores) run in `make check-lab`
# with the VM tests; `make check` keeps the plan and defect 1.
long_fake() {
	[ "${ZC_LAB_TESTS:-0}" = 1 ] || skip "a longer rollout test: run it with make check-lab"
	fake_tools
}
fake_dir() { FD=$(mktemp -d "/tmp/zc-fake-$1.XXXXXX"); trap 'rm -rf "$FD"' EXIT; }
hj() { fake_host_json "$FD" "$1"; }
need() { # need HOST JQ-FILTER [ARGS...]: the host's summary row satisfies the filter
	local h=$1 f=$2
	shift 2
	jq -e "$@" "$f" <<<"$(hj "$h")" >/dev/null || fail "$h: $(hj "$h")"
}

# Waves: percentages of the hosts left with a cap, validated; host counts and
# directory/dynamic inventories through ansible-inventory; group waves and a
# canary per hardware class; a test-profile kernel refused off the lab
# unless forced, and the force recorded.
test_rollout_plan_waves_inventories_and_identity() {
	fake_tools
	local w
	w=$(scripts/rollout.sh --plan-waves 5000 500 1 1% 5% 25% 100%)
	assert_eq '[1,50,250,500,500,500,500,500,500,500,500,500,199]' "$w" "waves of 5000 hosts"
	assert_eq '[1,1,1]' "$(scripts/rollout.sh --plan-waves 3 500 1 1% 5% 25% 100%)" "waves of 3 hosts"
	assert_eq '[1,10,10,10,10,9]' "$(scripts/rollout.sh --plan-waves 50 10 1 100%)" "capped waves"
	run_rc rc scripts/rollout.sh --plan-waves 10 500 1 0% 100%
	assert_eq 1 "$rc" "a wave of 0 %"
	assert_contains "$out" "'0%' is not a percentage between 1% and 100%"
	run_rc rc scripts/rollout.sh --plan-waves 10 500 1 150%
	assert_eq 1 "$rc" "a wave of 150 %"
	run_rc rc scripts/rollout.sh --plan-waves 10 500 0
	assert_eq 1 "$rc" "a wave of 0 hosts"
	fake_dir plan
	fake_fleet "$FD" 5 "$OLDK" "$NEWK" >/dev/null
	# a directory inventory: the YAML file plus an INI file with groups (in a
	# directory Ansible skips *.ini names)
	mkdir "$FD/inv"
	cp "$FD/inventory.yml" "$FD/inv/10-fleet.yml"
	printf '[rack_a]\nh1\nh2\n\n[rack_b]\nh3\nh4\nh5\n\n[hw_x]\nh1\nh4\n\n[hw_y]\nh2\nh3\nh5\n' >"$FD/inv/20-groups"
	run_rc rc env ROLLOUT_DRY_RUN=1 ROLLOUT_RESULTS="$FD/r1" ROLLOUT_STATE="$FD/state" INVENTORY="$FD/inv" REPO_KEY="$FD/key.gpg" \
		KREL=$NEWK ROLLOUT_WAVES="1 100%" ROLLOUT_WAVE_GROUPS="rack_b rack_a" scripts/rollout.sh
	assert_eq 0 "$rc" "dry run on a directory inventory ($out)"
	assert_contains "$out" "onto 5 host(s)"
	jq -e '.hosts_left == ["h3","h4","h5","h1","h2"] and .waves == [1,2,2]' "$FD/r1/plan.json" >/dev/null ||
		fail "group waves: $(jq -c '{hosts_left, waves}' "$FD/r1/plan.json")"
	run_rc rc env ROLLOUT_DRY_RUN=1 ROLLOUT_RESULTS="$FD/r2" ROLLOUT_STATE="$FD/state" INVENTORY="$FD/inv" REPO_KEY="$FD/key.gpg" \
		KREL=$NEWK ROLLOUT_WAVES="1 2 100%" ROLLOUT_CANARY_GROUPS="hw_x hw_y" scripts/rollout.sh
	assert_eq 0 "$rc" "dry run with canaries ($out)"
	jq -e '.hosts_left[:2] == ["h1","h2"] and .waves == [2,2,1]' "$FD/r2/plan.json" >/dev/null ||
		fail "canaries: $(jq -c '{hosts_left, waves}' "$FD/r2/plan.json")"
	# a dynamic inventory (an executable printing JSON)
	cat >"$FD/dyn.sh" <<-EOT
		#!/bin/sh
		ansible-inventory -i "$FD/inventory.yml" --list
	EOT
	chmod +x "$FD/dyn.sh"
	run_rc rc env ROLLOUT_DRY_RUN=1 ROLLOUT_RESULTS="$FD/r3" ROLLOUT_STATE="$FD/state" INVENTORY="$FD/dyn.sh" REPO_KEY="$FD/key.gpg" \
		KREL=$NEWK scripts/rollout.sh
	assert_eq 0 "$rc" "dry run on a dynamic inventory ($out)"
	assert_contains "$out" "onto 5 host(s)"
	# an inventory Ansible cannot parse is refused before anything runs
	printf '[broken\nh1 ansible_host=\n' >"$FD/bad.ini"
	run_rc rc env ROLLOUT_DRY_RUN=1 ROLLOUT_RESULTS="$FD/r4" ROLLOUT_STATE="$FD/state" INVENTORY="$FD/bad.ini" REPO_KEY="$FD/key.gpg" \
		KREL=$NEWK scripts/rollout.sh
	assert_eq 1 "$rc" "a broken inventory"
	assert_contains "$out" "ansible-inventory cannot"
	# identity: a smoke-profile kernel stays in the lab
	run_rc rc env ROLLOUT_DRY_RUN=1 ROLLOUT_RESULTS="$FD/r5" ROLLOUT_STATE="$FD/state" INVENTORY="$FD/inventory.yml" REPO_KEY="$FD/key.gpg" \
		KREL=5.10.262-1-zc1-smoke scripts/rollout.sh
	assert_eq 1 "$rc" "a smoke kernel onto a fleet"
	assert_contains "$out" "test kernel for CI and the lab only"
	run_rc rc env ROLLOUT_DRY_RUN=1 ROLLOUT_RESULTS="$FD/r6" ROLLOUT_STATE="$FD/state" INVENTORY="$FD/inventory.yml" REPO_KEY="$FD/key.gpg" \
		KREL=5.10.262-1-zc1-smoke ROLLOUT_FORCE_TEST_PROFILE=1 scripts/rollout.sh
	assert_eq 0 "$rc" "a forced smoke kernel ($out)"
	jq -e '.forced.test_profile == "smoke" and .forced.how == "ROLLOUT_FORCE_TEST_PROFILE=1"' "$FD/r6/plan.json" >/dev/null ||
		fail "the force is not recorded: $(jq -c .forced "$FD/r6/plan.json")"
}

# Defect 1: a host already running KREL whose default is still the old kernel
# gets the old kernel pinned (not KREL); its smoke fails; it ends on its old
# default. The state file keeps the known-good kernel.
test_rollout_fake_defect1_rerun_keeps_old_default() {
	fake_tools
	fake_dir d1
	fake_fleet "$FD" 1 "$OLDK" "$NEWK" >/dev/null
	local r=$FD/h1
	# the host was kexec'd into NEWK by hand (or by a run that died): it
	# runs it, the package is there, the default is still OLDK
	echo "kernel $NEWK" >"$r/boot/vmlinuz-$NEWK"
	echo "initrd $NEWK" >"$r/boot/initrd.img-$NEWK"
	ZC_ROOT=$r "$r/bin/update-grub"
	echo "$NEWK" >"$r/proc/sys/kernel/osrelease"
	touch "$r/.smoke-fail-$NEWK"
	# GRUB_DEFAULT=0 boots the newest kernel: pin the old one explicitly first
	ZC_ROOT=$r "$r/bin/grub-editenv" "$r/boot/grub/grubenv" set "saved_entry=gnulinux-advanced-1234-fake>gnulinux-$OLDK-advanced-1234-fake"
	printf 'GRUB_DEFAULT=saved\n' >"$r/etc/default/grub.d/50-site.cfg"
	ZC_ROOT=$r "$r/bin/update-grub"
	assert_eq "$OLDK" "$(fh_default "$FD" h1)" "the default before"
	fake_rollout "$FD" KREL=$NEWK
	assert_eq 1 "$rc" "rollout exit"
	need h1 '.verdict == "fail" and .failed_stage == "health" and .old_kernel == $n and .known_good == $o
		and .running_kernel == $o and (.note | test("zc-smoke exited 1")) and (.note | test("back on \($o)"))' \
		--arg o "$OLDK" --arg n "$NEWK"
	assert_eq "$OLDK" "$(fh_krel "$FD" h1)" "kernel after the rollback"
	assert_eq "$OLDK" "$(fh_default "$FD" h1)" "default after the rollback"
	grep -qx "known_good=$OLDK" "$r/var/lib/zc-kernel/state" || fail "state: $(cat "$r/var/lib/zc-kernel/state")"
	grep -qx 'phase=failed' "$r/var/lib/zc-kernel/state" || fail "state: $(cat "$r/var/lib/zc-kernel/state")"
	# never was NEWK the saved default, not even for a moment
	assert_not_contains "$(grep 'grub-set-default' "$r/calls.log")" "$NEWK" "grub-set-default calls"
	# the quarantine: a re-run leaves the failed host alone until cleared
	fake_rollout "$FD" KREL=$NEWK
	assert_eq 1 "$rc" "re-run with the host quarantined"
	jq -e '.verdict == "incomplete" and .hosts[0].verdict == "quarantined"' "$FD/results/summary.json" >/dev/null ||
		fail "quarantine: $(jq -c . "$FD/results/summary.json")"
}

# Defect 4 and the halt: a wave of two with one failing host halts, the
# later wave is untouched, with ANSIBLE_STRATEGY=free in the environment.
test_rollout_fake_failing_wave_halts_with_free_strategy() {
	long_fake
	fake_dir free
	fake_fleet "$FD" 3 "$OLDK" "$NEWK" >/dev/null
	touch "$FD/h2/.smoke-fail-$NEWK"
	fake_rollout "$FD" KREL=$NEWK ROLLOUT_WAVES="2 100%" ANSIBLE_STRATEGY=free
	assert_eq 1 "$rc" "rollout exit"
	jq -e '.verdict == "halted" and .waves_run == 1 and (.halt_reason | test("h2 failed"))' "$FD/results/summary.json" >/dev/null ||
		fail "summary: $(jq -c '{verdict, waves_run, halt_reason}' "$FD/results/summary.json")"
	need h1 '.verdict == "pass" and .wave == 1'
	need h2 '.verdict == "fail" and .wave == 1 and .running_kernel == $o' --arg o "$OLDK"
	need h3 '.verdict == "not touched"'
	assert_eq "$NEWK" "$(fh_default "$FD" h1)" "h1 default"
	assert_eq "$OLDK" "$(fh_default "$FD" h2)" "h2 default"
	assert_eq "$OLDK" "$(fh_krel "$FD" h2)" "h2 kernel"
	[ ! -s "$FD/h3/calls.log" ] || fail "h3 was touched: $(cat "$FD/h3/calls.log")"
	assert_not_contains "$(cat "$FD/results/ansible.log")" "[h3]" "the Ansible log"
}

# Defect 2: hosts that drop off ssh during the health check come back and are
# rolled back; a host that drops off while its default is set and never
# returns is reported as needing a human.
test_rollout_fake_unreachable_hosts() {
	long_fake
	fake_dir unreach
	fake_fleet "$FD" 2 "$OLDK" "$NEWK" >/dev/null
	echo 12 >"$FD/h1/.drop-on-zc-smoke"
	echo "forever $NEWK" >"$FD/h2/.drop-on-grub-set-default"
	fake_rollout "$FD" KREL=$NEWK ROLLOUT_WAVES=2 ROLLOUT_BOOT_TIMEOUT=25
	assert_eq 1 "$rc" "rollout exit"
	need h1 '.verdict == "fail" and .failed_stage == "health" and .running_kernel == $o and (.note | test("back on \($o)"))
		and .needs_human == false' --arg o "$OLDK"
	need h2 '.verdict == "fail" and .failed_stage == "default" and .needs_human == true and (.note | test("NEEDS A HUMAN"))'
	jq -e '.needs_human == ["h2"]' "$FD/results/summary.json" >/dev/null || fail "needs_human: $(jq -c .needs_human "$FD/results/summary.json")"
	assert_eq "$OLDK" "$(fh_krel "$FD" h1)" "h1 kernel"
	assert_eq "$OLDK" "$(fh_default "$FD" h1)" "h1 default"
}

# Defect 3: a trial kernel that panics comes back through the firmware on the
# unchanged default by itself (panic=N on the kexec command line only); one
# that hangs comes back through the watchdog armed across the kexec.
test_rollout_fake_trial_panic_and_hang_revert() {
	long_fake
	fake_dir panic
	fake_fleet "$FD" 2 "$OLDK" "$NEWK" >/dev/null
	fake_hostvars "$FD" h1 'zc_kexec_append: init=/bin/false'
	# h2 hangs: no panic= (0), but a watchdog
	fake_hostvars "$FD" h2 'zc_kexec_append: init=/bin/false' 'zc_kexec_panic: 0' 'zc_watchdog_sec: 60'
	touch "$FD/h2/dev/watchdog0"
	fake_rollout "$FD" KREL=$NEWK ROLLOUT_WAVES=2
	assert_eq 1 "$rc" "rollout exit"
	local h
	for h in h1 h2; do
		need "$h" '.verdict == "fail" and .failed_stage == "switch" and .running_kernel == $o
			and (.note | test("rebooted into another kernel"))' --arg o "$OLDK"
		assert_eq "$OLDK" "$(fh_krel "$FD" "$h")" "$h kernel"
		assert_eq "$OLDK" "$(fh_default "$FD" "$h")" "$h default"
	done
	grep -q "panic=10 init=/bin/false" "$FD/h1/kexec.log" 2>/dev/null || grep -q "panic=10 init=/bin/false" "$FD/h1/calls.log" ||
		fail "h1's trial command line had no panic=10: $(grep 'kexec -s' "$FD/h1/calls.log")"
	grep -q 'watchdog reset' "$FD/h2/boots.log" || fail "h2 did not come back through the watchdog: $(cat "$FD/h2/boots.log")"
	grep -q '^KExecWatchdogSec=60' "$FD/h2/etc/systemd/system.conf.d/zc-kernel-watchdog.conf" || fail "no KExecWatchdogSec on h2"
	# the panic= is the trial's only: the GRUB entries do not carry it
	assert_not_contains "$(cat "$FD/h1/boot/grub/grub.cfg")" "panic=" "grub.cfg"
}

# Secure Boot and lockdown: a locked-down host whose kexec_file_load is
# refused never tries the legacy kexec_load (even with zc_kexec_legacy) and
# reboots into a one-shot entry; a host with kexec_load_disabled=1 takes the
# reboot path; a host whose grubenv is on LVM is refused the reboot path.
# All of it through become (ROLLOUT_BECOME=1).
test_rollout_fake_lockdown_kexec_disabled_and_lvm() {
	long_fake
	fake_dir lock
	fake_fleet "$FD" 3 "$OLDK" "$NEWK" >/dev/null
	echo "none [integrity] confidentiality" >"$FD/h1/sys/kernel/security/lockdown"
	touch "$FD/h1/.no-kexec-file"
	echo 1 >"$FD/h2/proc/sys/kernel/kexec_load_disabled"
	echo 1 >"$FD/h3/proc/sys/kernel/kexec_load_disabled"
	touch "$FD/h3/.boot-on-lvm"
	# and through become (su: root needs no password; sudo is not installed here)
	local h
	for h in h1 h2 h3; do fake_hostvars "$FD" "$h" 'ansible_become_method: su'; done
	fake_rollout "$FD" KREL=$NEWK ROLLOUT_WAVES=3 ROLLOUT_VARS='{"zc_kexec_legacy": true}' ROLLOUT_BECOME=1
	assert_eq 1 "$rc" "rollout exit"
	need h1 '.verdict == "pass" and .lockdown == "integrity" and (.switch_method | test("^reboot .*locked down"))'
	need h2 '.verdict == "pass" and (.switch_method | test("kexec_load_disabled=1"))'
	need h3 '.verdict == "fail" and (.note | test("LVM or MD"))'
	assert_not_contains "$(cat "$FD/h1/calls.log")" "kexec -c" "h1's calls (lockdown)"
	grep -q '^grub-reboot ' "$FD/h1/calls.log" || fail "h1 used no one-shot entry"
	jq -e '.become == true' "$FD/results/plan.json" >/dev/null || fail "the run did not use become"
	for h in h1 h2; do
		assert_eq "$NEWK" "$(fh_krel "$FD" "$h")" "$h kernel"
		assert_eq "$NEWK" "$(fh_default "$FD" "$h")" "$h default"
		[ -z "$(ZC_ROOT=$FD/$h "$FD/$h/bin/grub-editenv" "$FD/$h/boot/grub/grubenv" list | grep next_entry)" ] || fail "$h: next_entry left set"
	done
	assert_eq "$OLDK" "$(fh_krel "$FD" h3)" "h3 kernel"
	assert_eq "$OLDK" "$(fh_default "$FD" h3)" "h3 default"
}

# Installation safety: no kexec without an initrd when the host boots with
# one; a half-configured dpkg is recovered first; too little room on /boot
# stops the host before anything is installed. The APT source is scoped.
test_rollout_fake_install_safety() {
	long_fake
	fake_dir inst
	fake_fleet "$FD" 3 "$OLDK" "$NEWK" >/dev/null
	rm "$FD/h1/.has-initramfs-tools"
	echo "The following packages are only half configured: foo" >"$FD/h2/.dpkg-audit"
	fake_hostvars "$FD" h3 'zc_boot_min_free_mb: 999999999'
	fake_rollout "$FD" KREL=$NEWK ROLLOUT_WAVES=3
	assert_eq 1 "$rc" "rollout exit"
	need h1 '.verdict == "fail" and .failed_stage == "switch" and (.note | test("boots with an initrd")) and .running_kernel == $o' --arg o "$OLDK"
	need h2 '.verdict == "pass"'
	need h3 '.verdict == "fail" and .failed_stage == "install" and (.note | test("/boot has .* MiB free"))'
	assert_not_contains "$(cat "$FD/h1/calls.log")" "kexec -s" "h1's calls"
	assert_not_contains "$(cat "$FD/h3/calls.log")" "apt-get install" "h3's calls"
	grep -q 'dpkg --root=/\? *--configure -a\|dpkg --root=.* --configure -a' "$FD/h2/calls.log" || fail "h2: no dpkg --configure -a"
	[ ! -f "$FD/h2/.dpkg-audit" ] || fail "h2's dpkg was not recovered"
	grep -q 'DPkg::Lock::Timeout=300' "$FD/h2/calls.log" || fail "apt-get does not wait for the dpkg lock"
	# APT preferences: the source serves only the project's packages
	grep -q '^Pin-Priority: -1' "$FD/h2/etc/apt/preferences.d/zc-kernel.pref" || fail "no catch-all pin"
	need h2 '.permanent_changes | map(select(test("apt preferences"))) | length == 1'
}

# The dnf path: a Debian GRUB host and two dnf hosts (GRUB with BLS entries,
# grubby, kernel-install that would make a new kernel the default) in one
# wave. The kernel comes from the YUM repository (zc-kernel-release(KREL)),
# scoped with includepkgs; the default moves only after the health check;
# a failing dnf host comes back on its old default.
test_rollout_fake_dnf_hosts() {
	fake_tools
	fake_dir dnf
	fake_fleet "$FD" 3 "$OLDK" "$NEWK" >/dev/null
	fake_rpm_host "$FD" h2
	fake_rpm_host "$FD" h3
	touch "$FD/h3/.smoke-fail-$NEWK"
	fake_rollout "$FD" KREL=$NEWK ROLLOUT_WAVES=3
	assert_eq 1 "$rc" "rollout exit (h3 fails)"
	need h1 '.verdict == "pass" and .boot_loader == "grub"'
	need h2 '.verdict == "pass" and .boot_loader == "grub-bls" and .running_kernel == $n
		and (.permanent_changes | map(select(test("yum repository"))) | length == 1)
		and (.permanent_changes | index("boot loader: /etc/sysconfig/kernel (UPDATEDEFAULT=no)"))' --arg n "$NEWK"
	need h1 '.permanent_changes | index("boot loader: /etc/default/grub.d/zc-kernel.cfg (GRUB_DEFAULT=saved)")'
	need h3 '.verdict == "fail" and .failed_stage == "health" and .running_kernel == $o' --arg o "$OLDK"
	assert_eq "$NEWK" "$(fh_default "$FD" h2)" "h2's default"
	assert_eq "$OLDK" "$(fh_default "$FD" h3)" "h3's default after its rollback"
	local c
	c=$(cat "$FD/h2/calls.log")
	assert_contains "$c" "dnf install -y -q --setopt=install_weak_deps=False zc-kernel-release($NEWK) zc-smoke" "h2's install"
	assert_contains "$c" "dnf -q check" "h2's preflight"
	assert_not_contains "$c" "apt-get" "h2's calls"
	# the package's kernel-install did not make the untested kernel the
	# default: the pin set UPDATEDEFAULT=no before the install
	grep -qx 'UPDATEDEFAULT=no' "$FD/h3/etc/sysconfig/kernel" || fail "h3: $(cat "$FD/h3/etc/sysconfig/kernel")"
	assert_not_contains "$(grep 'grubby --set-default' "$FD/h3/calls.log")" "$NEWK" "h3's grubby calls"
	# the trial kexec took the BLS entry's command line, root= included
	grep -q "boot $NEWK BOOT_IMAGE\|boot $NEWK .*root=UUID=1234-fake" "$FD/h2/boots.log" || fail "h2 boots: $(cat "$FD/h2/boots.log")"
	grep -q '^includepkgs=kernel-zc\* zc-smoke$' "$FD/h2/etc/yum.repos.d/zc-kernel.repo" || fail "repo: $(cat "$FD/h2/etc/yum.repos.d/zc-kernel.repo")"
	grep -q '^repo_gpgcheck=1$' "$FD/h2/etc/yum.repos.d/zc-kernel.repo" || fail "no repo_gpgcheck"
	# an rpm host without dnf is refused before anything changes (the
	# rpm database is there, dnf is not: this machine's own dnf cannot be
	# hidden from a fake host, so that host has no rpm database either way)
	fake_dir nodnf
	fake_fleet "$FD" 1 "$OLDK" "$NEWK" >/dev/null
	rm "$FD/h1/var/lib/dpkg/status"
	fake_rollout "$FD" KREL=$NEWK
	assert_eq 1 "$rc" "rollout onto a host with no package database"
	need h1 '.verdict == "fail" and (.note | test("no package manager found"))'
	assert_eq "$OLDK" "$(fh_default "$FD" h1)" "h1's default"
}

# Resume: a controller killed mid-wave leaves a correct summary; the resume
# command it prints finishes the fleet without re-rolling the done host.
test_rollout_fake_interrupted_run_resumes() {
	long_fake
	fake_dir resume
	fake_fleet "$FD" 3 "$OLDK" "$NEWK" >/dev/null
	RES=$FD/results
	env ROLLOUT_QUIET=1 ROLLOUT_RESULTS="$RES" ROLLOUT_STATE="$FD/state" INVENTORY="$FD/inventory.yml" \
		REPO_KEY="$FD/key.gpg" CHANNEL=stable ANSIBLE_CONNECTION_PLUGINS="$FAKEHOST_LIB/connection_plugins" \
		ROLLOUT_BOOT_TIMEOUT=30 ROLLOUT_CONNECT_TIMEOUT=10 ROLLOUT_WAVES=1 KREL=$NEWK \
		"$TOP/scripts/rollout.sh" >"$FD/first.log" 2>&1 &
	local pid=$! ap="" i
	for i in $(seq 600); do
		if grep -q '^apt-get .*install' "$FD/h2/calls.log" 2>/dev/null; then
			ap=$(pgrep -P "$pid" -f ansible-playbook | head -n1 || true)
			break
		fi
		sleep 0.2
	done
	[ -n "$ap" ] || { wait "$pid" || true; fail "never saw h2 install: $(tail -n 20 "$FD/first.log")"; }
	kill -9 "$ap"
	rc=0
	wait "$pid" || rc=$?
	cat "$FD/first.log"
	assert_eq 1 "$rc" "the killed run's exit"
	jq -e '.verdict == "halted" and (.halt_reason | test("interrupted"))' "$RES/summary.json" >/dev/null ||
		fail "summary: $(jq -c '{verdict, halt_reason}' "$RES/summary.json")"
	need h1 '.verdict == "pass"'
	need h2 '.verdict == "interrupted"'
	need h3 '.verdict == "not touched"'
	local resume boots1
	resume=$(jq -r .resume "$RES/summary.json")
	assert_contains "$resume" "make rollout INVENTORY=$FD/inventory.yml"
	boots1=$(cat "$FD/h1/boots.log")
	sleep 3 # what the killed controller had started on h2 settles
	# the printed command, as an operator would paste it
	run_rc rc env ROLLOUT_QUIET=1 ANSIBLE_CONNECTION_PLUGINS="$FAKEHOST_LIB/connection_plugins" bash -c "cd '$TOP' && $resume"
	assert_eq 0 "$rc" "the resumed run ($out)"
	local latest
	latest=$(readlink -f "$OUT/rollout/latest")
	assert_eq '["h2","h3"]' "$(jq -c .hosts_left "$latest/plan.json")" "hosts left for the resumed run"
	jq -e '.verdict == "pass" and ([.hosts[] | select(.host == "h1")][0].verdict == "done earlier")' "$latest/summary.json" >/dev/null ||
		fail "resumed summary: $(jq -c . "$latest/summary.json")"
	rm -rf "$latest"
	assert_eq "$boots1" "$(cat "$FD/h1/boots.log")" "h1 was not switched again"
	for i in 1 2 3; do
		assert_eq "$NEWK" "$(fh_krel "$FD" "h$i")" "h$i kernel"
		assert_eq "$NEWK" "$(fh_default "$FD" "h$i")" "h$i default"
	done
}

# The operator's hooks, the bake time and the approval: the host hook runs
# per host after zc-smoke, the wave hook after the bake; without an approval
# the rollout halts before the next wave, which stays untouched.
test_rollout_fake_hooks_bake_and_approval() {
	long_fake
	fake_dir hooks
	fake_fleet "$FD" 2 "$OLDK" "$NEWK" >/dev/null
	fake_rollout "$FD" KREL=$NEWK ROLLOUT_WAVES="1 1" ROLLOUT_BAKE=2 \
		ROLLOUT_HOST_HOOK="sh -c 'echo host \$ZC_HOST \$ZC_KREL >>$FD/hooks.log'" \
		ROLLOUT_WAVE_HOOK="sh -c 'echo wave \$ZC_WAVE_HOSTS >>$FD/hooks.log'" \
		ROLLOUT_APPROVE_AFTER=1 ROLLOUT_VARS='{"rollout_approval_timeout": 3}'
	assert_eq 1 "$rc" "rollout exit without an approval"
	assert_eq "host h1 $NEWK
wave h1" "$(cat "$FD/hooks.log")" "the hooks' log"
	need h1 '.verdict == "pass"'
	need h2 '.verdict == "not touched"'
	jq -e '.verdict == "halted" and (.halt_reason | test("approval"))' "$FD/results/summary.json" >/dev/null ||
		fail "summary: $(jq -c '{verdict, halt_reason}' "$FD/results/summary.json")"
	grep -q 'Bake the wave' "$FD/results/ansible.log" || fail "no bake"
	# a failing host hook fails its host, which goes back
	fake_rollout "$FD" KREL=$NEWK ROLLOUT_WAVES="1" ROLLOUT_HOST_HOOK="false"
	assert_eq 1 "$rc" "rollout exit with a failing host hook"
	need h2 '.verdict == "fail" and .failed_stage == "health" and .running_kernel == $o' --arg o "$OLDK"
	assert_eq "$OLDK" "$(fh_default "$FD" h2)" "h2 default"
}
