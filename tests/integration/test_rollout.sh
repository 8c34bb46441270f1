# shellcheck shell=bash
# The fleet rollout (rollout/, scripts/rollout.sh) on lab fleets of qemu VMs
# (scripts/lab-fleet.sh): a passing rollout of three hosts, a canary that
# fails its health check and goes back, a trial kernel that panics and comes
# back by itself, and a host that never comes back. Each test boots its own
# small lab (3 VMs at most: TCG on 2 cores), on ports of its own, with its
# results in a temporary directory, and stops every VM it started.
# These boot VMs for minutes: they run in `make check-lab` (ZC_LAB_TESTS=1),
# and are skipped by `make check`. The rollout's logic without VMs is in
# test_rollout_fake.sh.

# shellcheck source=tests/lib/lab-repo.sh
. "$TOP/tests/lib/lab-repo.sh"

# The kernel releases come from the images built here (never hard-coded):
# ZC1 the 5.10 line's patched smoke kernel, ZC0 the unpatched control.
ZC1=$(jq -r .krel "$OUT/images/5.10/image.json" 2>/dev/null || true)
ZC0=$(jq -r .krel "$OUT/images/control/image.json" 2>/dev/null || true)
lab_tests() {
	[ "${ZC_LAB_TESTS:-0}" = 1 ] || skip "a VM test: run it with make check-lab"
	[ -n "$ZC1" ] || skip "no 5.10 image (make image KERNEL=5.10)"
}

rollout_tools() {
	local t
	for t in ansible-playbook qemu-system-x86_64 qemu-img ssh ssh-keygen reprepro gpg; do
		command -v "$t" >/dev/null || skip "$t is missing (make deps)"
	done
	[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "ovmf is missing (make deps)"
}

# lab_up NAME IMAGE_LINE N SSH_PORT [REPO_DIR]: a lab in a temporary
# directory, stopped when the test exits. Sets LAB_DIR, RES, SSHP (first port).
lab_up() {
	local name=$1 line=$2 n=$3 port=$4 repo=${5:-$OUT/repo}
	[ -f "$OUT/images/$line/image.json" ] || skip "no $line image (make image KERNEL=$line)"
	LAB_DIR=$(mktemp -d "/tmp/zc-lab-$name.XXXXXX")
	RES=$LAB_DIR/results
	SSHP=$port
	export LAB_DIR
	# stop the VMs and the server whatever happens; the results go with them
	# (the table is in this test's log)
	trap 'LAB_DIR=$LAB_DIR "$TOP/scripts/lab-down.sh" >/dev/null 2>&1 || true; rm -rf "$LAB_DIR"' EXIT
	LAB_KERNEL=$line LAB_SSH_PORT=$port LAB_HTTP_PORT=$((port + 6000)) LAB_REPO_DIR=$repo \
		LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-400} "$TOP/scripts/lab-fleet.sh" "$n" >"$LAB_DIR/lab-fleet.log" 2>&1 ||
		fail "lab-fleet.sh failed: $(tail -n 5 "$LAB_DIR/lab-fleet.log")"
}

# on HOST_INDEX CMD: run CMD on a lab VM (1 = the first).
on() {
	local i=$1
	shift
	ssh -i "$LAB_DIR/id_ed25519" -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR \
		-o ConnectTimeout=10 -o BatchMode=yes -p $((SSHP + i - 1)) root@127.0.0.1 "$@"
}

# rollout [VAR=VALUE...]: scripts/rollout.sh on the lab, quiet, results in $RES.
rollout() {
	run_rc rc env ROLLOUT_QUIET=1 ROLLOUT_RESULTS="$RES" ROLLOUT_STATE="$LAB_DIR/state" "$@" "$TOP/scripts/rollout.sh" >/dev/null
	echo "rollout $* exited $rc:"
	if [ -f "$RES/ansible.log" ]; then
		sed -n '/^zc-kernel rollout of /,$p' "$RES/ansible.log"
	else
		printf '%s\n' "$out" | tail -n 15 # it stopped before Ansible: say why
	fi
}

host_json() { jq -c --arg h "$1" '.hosts[] | select(.host == $h)' "$RES/summary.json"; }

# A lab image whose kernel is not ZC1: the control's, else another line's.
lab_line_not_zc1() {
	local l
	for l in control 6.1 6.12; do
		if [ -f "$OUT/images/$l/image.json" ] && [ "$(jq -r .krel "$OUT/images/$l/image.json")" != "$ZC1" ]; then
			echo "$l"
			return 0
		fi
	done
	return 1
}

test_rollout_playbook_lints_clean() {
	command -v ansible-playbook >/dev/null || skip "ansible is missing (make deps)"
	(cd rollout && PYTHONDONTWRITEBYTECODE=1 ANSIBLE_CONFIG=ansible.cfg ansible-playbook --syntax-check -i localhost, site.yml) >/dev/null ||
		fail "ansible-playbook --syntax-check rollout/site.yml"
	shellcheck -x -S warning scripts/lab-fleet.sh scripts/lab-down.sh scripts/rollout.sh \
		rollout/roles/zc_switch/files/zc-kexec rollout/roles/zc_boot_default/files/zc-boot-default \
		rollout/roles/zc_rollout/files/zc-state tests/lib/fakehost/bin/fake
	local p
	for p in rollout/callback_plugins/zc_rollout_summary.py tests/lib/fakehost/connection_plugins/zc_fake.py; do
		python3 -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" "$p"
	done
	command -v ansible-lint >/dev/null || skip "ansible-lint is not installed (apt-get install ansible-lint); syntax and shellcheck passed"
	run_rc rc bash -c 'cd rollout && PYTHONDONTWRITEBYTECODE=1 ANSIBLE_CONFIG=ansible.cfg timeout 300 ansible-lint --offline --nocolor -q site.yml'
	assert_eq 0 "$rc" "ansible-lint of rollout/ ($out)"
	# never trusted=yes; the key comes from the controller
	if grep -rn --exclude=README.md 'trusted=yes\|allow-unauthenticated\|AllowInsecure' rollout | grep -v '^[^:]*:[0-9]*:[[:space:]]*#'; then
		fail "rollout/ weakens apt's signature checks"
	fi
}

test_rollout_refuses_without_a_lab_or_key() {
	local d
	d=$(mktemp -d)
	# a fleet-profile release: what is refused here is the missing lab, key, URL
	export KREL=9.9.9-1-zc1-cloud
	run_rc rc env LAB_DIR="$d/lab" scripts/rollout.sh
	assert_eq 1 "$rc" "rollout without a lab"
	assert_contains "$out" "make lab-fleet N=3"
	printf '[fleet]\nh1 ansible_host=192.0.2.1\n' >"$d/inv.ini"
	run_rc rc env LAB_DIR="$d/lab" INVENTORY="$d/inv.ini" REPO_KEY="$d/none.gpg" scripts/rollout.sh
	assert_eq 1 "$rc" "rollout without a key"
	assert_contains "$out" "no archive key $d/none.gpg"
	touch "$d/k.gpg" && echo x >"$d/k.gpg"
	run_rc rc env LAB_DIR="$d/lab" INVENTORY="$d/inv.ini" REPO_KEY="$d/k.gpg" scripts/rollout.sh
	assert_eq 1 "$rc" "rollout without a repository URL"
	assert_contains "$out" "REPO_URL is not set"
	run_rc rc env LAB_DIR="$d/lab" scripts/lab-down.sh
	assert_eq 0 "$rc" "lab-down with no lab"
	rm -rf "$d"
}

# Acceptance: the promoted 5.10 kernel onto a lab fleet of 3 running another
# kernel, in waves; each host then runs it, passes zc-smoke, boots it by
# default (the rebuilt UKI, proven by a real reboot through the firmware).
# The phases of every host are printed: the TCG timings of the UKI hosts.
test_rollout_5_10_onto_lab_fleet() {
	lab_tests
	rollout_tools
	local line
	line=$(lab_line_not_zc1) || skip "no lab image with a kernel other than $ZC1 (make control, or make image KERNEL=6.1)"
	# the 5.10 packages in a signed channel "stable" of a repository of the
	# test's own (the pipeline's promotion is tested in test_promote.sh)
	[ -n "$(gpg --homedir "$OUT/keys/gnupg" --batch --list-secret-keys 2>/dev/null)" ] || make -s keys >/dev/null
	local repo
	repo=$(mktemp -d)
	lab_repo "$repo" stable "$OUT"/pkg/5.10/deb/linux-image-"${ZC1}"_*.deb "$OUT"/pkg/common/deb/zc-smoke_*.deb ||
		fail "could not make the test channel"
	lab_up ok "$line" 3 2431 "$repo"
	local old t0
	old=$(on 1 uname -r)
	[ "$old" != "$ZC1" ] || fail "the lab already runs $ZC1"
	# the third host cannot kexec: it takes the reboot path (a trial UKI
	# started once through the firmware's BootNext)
	on 3 sysctl -qw kernel.kexec_load_disabled=1
	t0=$SECONDS
	rollout CHANNEL=stable KREL=$ZC1
	echo "3-host rollout: $((SECONDS - t0)) s wall time"
	assert_eq 0 "$rc" "rollout exit ($(tail -n 30 "$RES/ansible.log" 2>/dev/null || printf '%s' "$out" | tail -n 15))"
	jq -e '.verdict == "pass" and .waves_run == 3 and (.hosts | length) == 3' "$RES/summary.json" >/dev/null ||
		fail "summary: $(jq -c . "$RES/summary.json")"
	jq -c '.hosts[] | {host, seconds, phases, switch_method, boot_loader}' "$RES/summary.json"
	local i h how
	for i in 1 2 3; do
		h=$(host_json "lab$i")
		how='^kexec_file_load$'
		[ "$i" != 3 ] || how='^reboot .*kexec_load_disabled=1'
		jq -e --arg o "$old" --arg n "$ZC1" --argjson w "$i" --arg how "$how" \
			'.verdict == "pass" and .old_kernel == $o and .new_kernel == $n and .wave == $w
			 and (.switch_method | test($how)) and .boot_loader == "uki" and .smoke.exit == 0
			 and ([.phases.install, .phases.kexec, .phases.back_up, .phases.smoke] | all(. > 0))' <<<"$h" >/dev/null ||
			fail "lab$i: $h"
		assert_eq "$ZC1" "$(on "$i" uname -r)" "lab$i kernel"
		on "$i" zc-smoke --quiet >/dev/null || fail "zc-smoke fails on lab$i after the rollout"
		assert_eq "default=$ZC1" "$(on "$i" /usr/local/lib/zc-kernel/zc-boot-default show)" "lab$i default boot entry"
		on "$i" test -f /efi/EFI/BOOT/BOOTX64.EFI.prev || fail "lab$i kept no BOOTX64.EFI.prev"
		on "$i" test ! -e /efi/EFI/zc-kernel/trial.efi || fail "lab$i kept its trial UKI"
		! on "$i" efibootmgr | grep -q 'zc-kernel trial' || fail "lab$i kept its trial boot entry: $(on "$i" efibootmgr)"
		on "$i" grep -q '^Signed-By: /etc/apt/keyrings/zc-kernel-archive.gpg' /etc/apt/sources.list.d/zc-kernel.sources ||
			fail "lab$i: the source is not signed-by the archive key"
	done
	# The table names every host with its phases.
	assert_contains "$(cat "$RES/ansible.log")" "zc-kernel rollout of $ZC1: PASS"
	# The new default really boots: a reboot through the firmware and the new UKI.
	local boot
	boot=$(on 1 cat /proc/sys/kernel/random/boot_id)
	on 1 systemctl reboot || true
	sleep 10
	for _ in $(seq 40); do
		if now=$(on 1 cat /proc/sys/kernel/random/boot_id 2>/dev/null) && [ "$now" != "$boot" ]; then break; fi
		sleep 3
	done
	[ "${now:-}" != "$boot" ] || fail "lab1 did not come back from a reboot"
	assert_eq "$ZC1" "$(on 1 uname -r)" "lab1 kernel after a reboot through the firmware"
	# the APT source serves the project's packages only
	on 1 grep -q '^Pin-Priority: -1' /etc/apt/preferences.d/zc-kernel.pref || fail "lab1 has no APT preferences for the source"
	rm -rf "$repo"
}

# The control kernel (fails zc-smoke) in a test channel, onto a lab running
# ZC1: the canary fails, goes back to ZC1 with its default boot
# entry unchanged; the rollout halts; the other host is never touched.
test_rollout_failing_canary_rolls_back_and_halts() {
	lab_tests
	rollout_tools
	[ -n "$ZC0" ] || skip "no control image (make image KERNEL=control)"
	local deb
	deb=$(find "$OUT/pkg/control/deb" -maxdepth 1 -name "linux-image-${ZC0}_*.deb" 2>/dev/null | head -n1)
	[ -n "$deb" ] || skip "no control package linux-image-$ZC0 (make control)"
	[ "$(jq -r .krel "$OUT/images/5.10/image.json" 2>/dev/null)" = "$ZC1" ] || skip "no 5.10 image with $ZC1 (make image KERNEL=5.10)"
	[ -n "$(gpg --homedir "$OUT/keys/gnupg" --batch --list-secret-keys 2>/dev/null)" ] || make -s keys >/dev/null
	local repo
	repo=$(mktemp -d)
	lab_repo "$repo" lab-broken "$deb" "$OUT"/pkg/common/deb/zc-smoke_*.deb || fail "could not make the test channel"
	lab_up broken 5.10 2 2441 "$repo"
	local boot2
	boot2=$(on 2 cat /proc/sys/kernel/random/boot_id)
	rollout CHANNEL=lab-broken KREL=$ZC0 ROLLOUT_BOOT_TIMEOUT=240
	assert_eq 1 "$rc" "rollout exit of a failing kernel"
	jq -e '.verdict == "halted" and .waves_run == 1' "$RES/summary.json" >/dev/null || fail "summary: $(jq -c . "$RES/summary.json")"
	local h1
	h1=$(host_json lab1)
	jq -e --arg z0 "$ZC0" --arg z1 "$ZC1" \
		'.verdict == "fail" and .old_kernel == $z1 and .new_kernel == $z0 and .running_kernel == $z1
		 and .failed_stage == "health" and .smoke.exit == 1 and (.smoke.failing | index("inq_zero_v4"))
		 and (.note | test("zc-smoke exited 1")) and (.note | test("back on \($z1) by kexec"))' <<<"$h1" >/dev/null ||
		fail "lab1: $h1"
	jq -e '.verdict == "not touched" and .wave == null' <<<"$(host_json lab2)" >/dev/null || fail "lab2: $(host_json lab2)"
	# The canary is back on its previous kernel, which stays its default.
	assert_eq "$ZC1" "$(on 1 uname -r)" "lab1 kernel after the rollback"
	assert_eq "default=$ZC1" "$(on 1 /usr/local/lib/zc-kernel/zc-boot-default show)" "lab1 default boot entry"
	on 1 test ! -e /efi/EFI/BOOT/BOOTX64.EFI.prev || fail "lab1's UKI was replaced although its kernel failed"
	# The other host was never touched: same boot, no repository, no helpers.
	assert_eq "$boot2" "$(on 2 cat /proc/sys/kernel/random/boot_id)" "lab2 boot id"
	on 2 test ! -e /etc/apt/sources.list.d/zc-kernel.sources -a ! -e /usr/local/lib/zc-kernel ||
		fail "lab2 was touched by the halted rollout"
	assert_contains "$(cat "$RES/ansible.log")" "zc-kernel rollout of $ZC0: HALTED"
	rm -rf "$repo"
}

# A trial kernel that panics after kexec (init=/bin/false on its command
# line: PID 1 exits) comes back by itself: panic=10 reboots it through the
# firmware into the unchanged default UKI. The rollout records the failure
# and halts; the second host is never touched.
test_rollout_trial_kernel_panics_and_comes_back() {
	lab_tests
	rollout_tools
	local line
	line=$(lab_line_not_zc1) || skip "no lab image with a kernel other than $ZC1 (make image KERNEL=control)"
	[ -n "$(gpg --homedir "$OUT/keys/gnupg" --batch --list-secret-keys 2>/dev/null)" ] || make -s keys >/dev/null
	local repo old boot
	repo=$(mktemp -d)
	lab_repo "$repo" lab-panic "$OUT"/pkg/5.10/deb/linux-image-"${ZC1}"_*.deb "$OUT"/pkg/common/deb/zc-smoke_*.deb ||
		fail "could not make the test channel"
	lab_up panic "$line" 2 2461 "$repo"
	old=$(on 1 uname -r)
	boot=$(on 2 cat /proc/sys/kernel/random/boot_id)
	rollout CHANNEL=lab-panic KREL="$ZC1" ROLLOUT_BOOT_TIMEOUT=240 ROLLOUT_VARS='{"zc_kexec_append": "init=/bin/false"}'
	assert_eq 1 "$rc" "rollout exit of a panicking trial"
	jq -c '.hosts[0] | {seconds, phases, note}' "$RES/summary.json"
	jq -e --arg o "$old" '.hosts[0] | .verdict == "fail" and .failed_stage == "switch" and .running_kernel == $o
		and (.note | test("rebooted into another kernel"))' "$RES/summary.json" >/dev/null ||
		fail "lab1: $(host_json lab1)"
	jq -e '.verdict == "halted" and .hosts[1].verdict == "not touched"' "$RES/summary.json" >/dev/null ||
		fail "summary: $(jq -c '{verdict, halt_reason}' "$RES/summary.json")"
	assert_eq "$old" "$(on 1 uname -r)" "lab1 kernel after the panic"
	assert_eq "default=$old" "$(on 1 /usr/local/lib/zc-kernel/zc-boot-default show)" "lab1 default"
	grep -q 'Kernel panic' "$LAB_DIR/lab1/console.log" || fail "no panic on lab1's console"
	assert_eq "$boot" "$(on 2 cat /proc/sys/kernel/random/boot_id)" "lab2 boot id"
	rm -rf "$repo"
}

# A host that does not come back within the boot timeout fails and halts the
# rollout (its qemu is killed once the switch starts; the next host, a port
# with nothing behind it, must never be contacted).
test_rollout_host_not_back_halts() {
	lab_tests
	rollout_tools
	[ "$(jq -r .krel "$OUT/images/5.10/image.json" 2>/dev/null)" = "$ZC1" ] || skip "no 5.10 image with $ZC1 (make image KERNEL=5.10)"
	[ -n "$(gpg --homedir "$OUT/keys/gnupg" --batch --list-secret-keys 2>/dev/null)" ] || make -s keys >/dev/null
	local repo
	repo=$(mktemp -d)
	lab_repo "$repo" lab-stall "$OUT"/pkg/5.10/deb/linux-image-${ZC1}_*.deb "$OUT"/pkg/common/deb/zc-smoke_*.deb ||
		fail "could not make the test channel"
	lab_up stall 5.10 1 2451 "$repo"
	# a second host that nobody answers for: the rollout must halt before it
	sed -i 's/^\(lab1 .*\)$/\1\nghost ansible_host=127.0.0.1 ansible_port=2459/' "$LAB_DIR/inventory.ini"
	(
		for _ in $(seq 600); do
			if grep -q 'TASK \[zc_switch : Switch (detached' "$RES/ansible.log" 2>/dev/null; then
				kill "$(cat "$LAB_DIR/lab1/qemu.pid")"
				exit 0
			fi
			sleep 0.5
		done
	) &
	local killer=$!
	# the host already runs the kernel: zc_force_switch makes it switch anyway
	rollout CHANNEL=lab-stall KREL=$ZC1 ROLLOUT_BOOT_TIMEOUT=30 ROLLOUT_VARS='{"zc_force_switch": true}'
	kill "$killer" 2>/dev/null || true
	wait "$killer" 2>/dev/null || true
	assert_eq 1 "$rc" "rollout exit with a host that does not come back"
	local h1
	h1=$(host_json lab1)
	jq -e '.verdict == "fail" and .failed_stage == "switch" and (.note | test("Wait for the host to come back"))
		and (.note | test("NEEDS A HUMAN: the host did not answer")) and .needs_human' <<<"$h1" >/dev/null || fail "lab1: $h1"
	jq -e '.verdict == "not touched"' <<<"$(host_json ghost)" >/dev/null || fail "ghost: $(host_json ghost)"
	jq -e '.verdict == "halted"' "$RES/summary.json" >/dev/null || fail "summary: $(jq -c . "$RES/summary.json")"
	assert_not_contains "$(cat "$RES/ansible.log")" "[ghost]" "the Ansible log"
	rm -rf "$repo"
}
