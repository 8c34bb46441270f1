# shellcheck shell=bash
# zc-smoke and zc-rpc-bench: on this machine's kernel, and on pristine versus
# patched 5.10 booted in qemu with a busybox initramfs.

# The checks that rest on the fix: each must fail on a kernel without it.
ZC_FAST_PATH_CHECKS="inq_zero_v4 inq_zero_v6 copybuf_1_v4 copybuf_300_v4 copybuf_300_v6 copybuf_4095_v4
copybuf_6000_v4 copybuf_two_sends_v4 copybuf_exact_v4 copybuf_exact_v6 copybuf_short_v4 copybuf_short_v6
copybuf_oob_hint_v4 copybuf_oob_hint_v6 copybuf_negative_v4 copybuf_efault_v4 skip_hint_1_v4 skip_hint_300_v4
skip_hint_4095_v6 skip_hint_page_minus_1_v4 skip_hint_page_minus_1_v6 rst_err_v4 fin_data_copybuf_v4 fin_eio
abi_optlen_16_v4 abi_optlen_20_v4 abi_optlen_24_v4 abi_optlen_36_v4 abi_optlen_40_v4"
# Regression checks: upstream semantics that hold with and without the fix.
ZC_REGRESSION_CHECKS="struct_copybuf_fields page_einval_v4 page_plus_1_einval_v4 misaligned_address
misaligned_inq_zero_v4 misaligned_copybuf_v4 listen_enotconn mmap_zerocopy"

test_zc_smoke_passes_on_host() {
	make -s smoke-host >/dev/null
	local j=out/results/host/smoke.json n
	n=$(out/bin/zc-smoke --list | wc -l)
	jq -e --argjson n "$n" '.summary.fail == 0 and .summary.pass + .summary.skip == $n and .summary.pass >= $n - 20' "$j" >/dev/null ||
		fail "host smoke JSON: $(jq -c .summary "$j") for $n checks"
	jq -e '.kernel | length > 0' "$j" >/dev/null || fail "no kernel in JSON"
	local c
	for c in $ZC_FAST_PATH_CHECKS $ZC_REGRESSION_CHECKS; do
		jq -e --arg c "$c" '[.checks[] | select(.name == $c)] | length == 1' "$j" >/dev/null ||
			fail "check $c is not in the host run"
	done
	jq -e '[.checks[] | select(.name | test("^copybuf_oob_hint_v[46]$")) | .recv_skip_hint > 0] | all' "$j" >/dev/null ||
		fail "copybuf_oob_hint: no skip hint after the copy"
}

test_zc_smoke_cli() {
	local b=out/bin/zc-smoke d
	d=$(mktemp -d)
	run_rc rc "$b" --list
	assert_eq 0 "$rc" "--list exit"
	assert_contains "$out" "inq_zero_v4"
	assert_contains "$out" "mmap_zerocopy"
	assert_contains "$out" "copybuf_oob_hint_v4"
	run_rc rc "$b" --only inq_zero_v4,skip_hint_300_v6 --quiet
	assert_eq 0 "$rc" "--only exit"
	assert_contains "$out" "1..2"
	run_rc rc "$b" --only no_such_check
	assert_eq 2 "$rc" "unknown --only name"
	assert_contains "$out" "no_such_check"
	run_rc rc "$b" --only ,
	assert_eq 2 "$rc" "--only , selects nothing"
	assert_contains "$out" "names no check"
	run_rc rc "$b" --timeout 0
	assert_eq 2 "$rc" "--timeout 0"
	run_rc rc "$b" --bogus
	assert_eq 2 "$rc" "bad option"
	# The JSON file is created first: a bad path fails before any check runs.
	run_rc rc "$b" --json "$d/no/such/dir/x.json"
	assert_eq 2 "$rc" "unwritable --json"
	assert_not_contains "$out" "ok 1"
	head -c 40 tests/smoke/zc_smoke.c | grep -q '^// SPDX-License-Identifier: GPL-2.0' || fail "no SPDX line"
	rm -rf "$d"
}

# As a user without CAP_IPC_LOCK under a 64 KiB RLIMIT_MEMLOCK, MSG_ZEROCOPY
# sends are sized to the limit; below a page the check skips with the reason.
test_zc_smoke_mmap_zerocopy_under_memlock() {
	local b d
	d=$(mktemp -d)
	b="$d/zc-smoke"
	cp out/bin/zc-smoke "$b"
	chmod 755 "$d" "$b"
	run_rc rc prlimit --memlock=65536 setpriv --reuid=65534 --regid=65534 --clear-groups "$b" --only mmap_zerocopy
	assert_eq 0 "$rc" "mmap_zerocopy as nobody, RLIMIT_MEMLOCK 64 KiB: $out"
	run_rc rc prlimit --memlock=4096 setpriv --reuid=65534 --regid=65534 --clear-groups "$b" --only mmap_zerocopy
	assert_eq 4 "$rc" "mmap_zerocopy as nobody, RLIMIT_MEMLOCK 4 KiB"
	assert_contains "$out" "SKIP RLIMIT_MEMLOCK"
	rm -rf "$d"
}

# A check that hangs loses that check only: gdb follows the first check's
# child and holds it at a breakpoint; the parent kills it at the check's
# time limit and runs the next check.
test_zc_smoke_check_timeout() {
	command -v gdb >/dev/null || skip "gdb is not installed"
	local o
	o=$(timeout 60 gdb -q -batch -ex 'set follow-fork-mode child' -ex 'set detach-on-fork on' \
		-ex 'break check_inq_zero' -ex run -ex 'shell sleep 4' -ex kill \
		--args out/bin/zc-smoke --timeout 2 --only inq_zero_v4,fin_eio 2>&1) || true
	assert_contains "$o" "hit Breakpoint 1"
	assert_contains "$o" "# inq_zero_v4: timeout: the check did not finish in 2 s (killed)"
	assert_contains "$o" "not ok 1 inq_zero_v4"
	assert_contains "$o" "ok 2 fin_eio"
}

test_zc_stress_short_run_on_host() {
	local j
	j=$(mktemp)
	run_rc rc out/bin/zc-stress --duration 5 --pairs 2 --seed 42 --json "$j"
	assert_eq 0 "$rc" "zc-stress exit: $out"
	assert_contains "$out" "seed 42"
	jq -e '.seed == 42 and .total.errors == 0 and .total.bytes_verified > 0 and
		([.total.calls[] | . > 0] | all) and .exit == 0' "$j" >/dev/null ||
		fail "zc-stress JSON: $(jq -c .total "$j")"
	run_rc rc out/bin/zc-stress --duration 0
	assert_eq 2 "$rc" "--duration 0"
	rm -f "$j"
}

test_bench_hybrid_saves_one_syscall_per_rpc() {
	local j
	j=$(mktemp)
	out/bin/zc-rpc-bench --count 3000 --json "$j" >/dev/null
	zc=$(jq -r '.modes[] | select(.mode == "zc") | .syscalls_per_rpc_excl_wait' "$j")
	hy=$(jq -r '.modes[] | select(.mode == "hybrid") | .syscalls_per_rpc_excl_wait' "$j")
	assert_eq 3.000 "$(printf '%.3f' "$zc")" "zc syscalls/RPC without waits"
	assert_eq 2.000 "$(printf '%.3f' "$hy")" "hybrid syscalls/RPC without waits"
	jq -e '[.modes[] | .qps_per_cpu_second > 0] | all' "$j" >/dev/null || fail "QPS per CPU-second missing"
}

test_quick_smoke_patched_5_10_passes() {
	local ver
	ver=$(. patches/5.10/source.conf && echo "${VERSION%-*}")
	run_rc rc scripts/quick-smoke.sh 5.10 patched
	assert_eq 0 "$rc" "verdict code of patched 5.10"
	jq -e '.verdict == "pass"' out/results/quick/5.10-patched/verdict.json >/dev/null
	jq -e '.summary.fail == 0' out/results/quick/5.10-patched/smoke.json >/dev/null
	jq -e '.total.errors == 0 and .total.bytes_verified > 0' out/results/quick/5.10-patched/stress.json >/dev/null ||
		fail "zc-stress in the patched quick kernel"
	assert_contains "$(cat out/results/quick/5.10-patched/console.log)" "@@ZC-KERNEL $ver"
}

test_quick_smoke_pristine_5_10_fails_the_fast_paths() {
	run_rc rc scripts/quick-smoke.sh 5.10 pristine
	assert_eq 1 "$rc" "verdict code of pristine 5.10 (fail)"
	local tap=out/results/quick/5.10-pristine/smoke.tap c
	for c in $ZC_FAST_PATH_CHECKS; do
		grep -q "^not ok [0-9]* $c\$" "$tap" || fail "$c is not 'not ok' on pristine 5.10"
	done
	# The regression checks and the normal zerocopy path hold on both.
	for c in $ZC_REGRESSION_CHECKS; do
		grep -q "^ok [0-9]* $c\$" "$tap" || fail "$c should pass on pristine 5.10"
	done
	jq -e '.verdict == "fail" and (.failing_checks | index("inq_zero_v4"))' out/results/quick/5.10-pristine/verdict.json >/dev/null
	# Data integrity does not depend on the fix.
	jq -e '.total.errors == 0 and .total.bytes_verified > 0' out/results/quick/5.10-pristine/stress.json >/dev/null ||
		fail "zc-stress in the pristine quick kernel"
}

test_verdict_tells_panic_timeout_and_no_result_apart() {
	local d
	d=$(mktemp -d)
	printf 'booting\n[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n' >"$d/c1"
	run_rc rc scripts/verdict.sh "$d/c1" "$d/r1" t 0 3
	assert_eq 10 "$rc" "panic code"
	assert_contains "$out" "kernel panic: Kernel panic - not syncing: VFS"
	printf 'booting\nstill booting\n' >"$d/c2"
	run_rc rc scripts/verdict.sh "$d/c2" "$d/r2" t 124 300
	assert_eq 11 "$rc" "timeout code"
	assert_contains "$out" "still booting"
	run_rc rc scripts/verdict.sh "$d/c2" "$d/r3" t 0 5
	assert_eq 12 "$rc" "no-result code"
	jq -e '.verdict == "no-result"' "$d/r3/verdict.json" >/dev/null
	# qemu stopped at the limit before it opened its serial file (a loaded
	# machine): a timeout with a record, not a crash of verdict.sh
	run_rc rc scripts/verdict.sh "$d/none" "$d/r4" t 124 5
	assert_eq 11 "$rc" "timeout code without a console file"
	assert_contains "$out" "the console is empty"
	jq -e '.verdict == "timeout" and .exit_code == 11' "$d/r4/verdict.json" >/dev/null || fail "verdict.json without a console"
	rm -rf "$d"
}

# A kernel splat is its own verdict (13), with the excerpt, even when every
# check passed; zc-stress, the selftests and zc-lockcount fail the boot.
test_verdict_splat_stress_selftests_lockcount() {
	local d ok
	d=$(mktemp -d)
	ok='@@ZC-SMOKE-BEGIN@@\nTAP version 13\n1..1\nok 1 inq_zero_v4\n@@ZC-SMOKE-EXIT 0@@\n'
	printf "${ok}[   12.5] BUG: KASAN: slab-out-of-bounds in tcp_recvmsg_locked+0x1/0x2\n[   12.5] Read of size 8\n@@ZC-SMOKE-END@@\n" >"$d/c1"
	run_rc rc scripts/verdict.sh "$d/c1" "$d/r1" t 0 3
	assert_eq 13 "$rc" "splat code"
	assert_contains "$out" "kernel splat: BUG: KASAN: slab-out-of-bounds"
	jq -e '.verdict == "splat" and (.splat | contains("Read of size 8"))' "$d/r1/verdict.json" >/dev/null ||
		fail "no splat excerpt in verdict.json"
	printf "${ok}WARNING: not a kernel line, mid-text\n# lockdep WARNING: in a TAP comment\n@@ZC-SMOKE-END@@\n" >"$d/c2"
	run_rc rc scripts/verdict.sh "$d/c2" "$d/r2" t 0 3
	assert_eq 13 "$rc" "a WARNING: at the start of a console line is a splat"
	printf "${ok}# lockdep WARNING: in a TAP comment\n@@ZC-SMOKE-END@@\n" >"$d/c3"
	run_rc rc scripts/verdict.sh "$d/c3" "$d/r3" t 0 3
	assert_eq 0 "$rc" "WARNING: inside a line is not a splat"
	printf "${ok}@@ZC-STRESS-BEGIN@@\n# pair 1: session 3 message 7: payload byte 9 is 0x00, sent 0x41\nnot ok 2 pair_1_v6\n@@ZC-STRESS-EXIT 1@@\n@@ZC-SMOKE-END@@\n" >"$d/c4"
	run_rc rc scripts/verdict.sh "$d/c4" "$d/r4" t 0 3
	assert_eq 1 "$rc" "zc-stress failure"
	assert_contains "$out" "zc-stress exit 1: # pair 1: session 3 message 7"
	printf "${ok}@@ZC-SELFTESTS-BEGIN@@\nnot ok 1 tcp_mmap_v4\n@@ZC-SELFTESTS-EXIT 1@@\n@@ZC-SMOKE-END@@\n" >"$d/c5"
	run_rc rc scripts/verdict.sh "$d/c5" "$d/r5" t 0 3
	assert_eq 1 "$rc" "selftest failure"
	assert_contains "$out" "selftests exit 1: tcp_mmap_v4"
	printf "${ok}@@ZC-LOCKCOUNT-EXIT 4@@\n@@ZC-SMOKE-END@@\n" >"$d/c6"
	run_rc rc scripts/verdict.sh "$d/c6" "$d/r6" t 0 3
	assert_eq 0 "$rc" "zc-lockcount skipped (no function tracer) does not fail"
	rm -rf "$d"
}

# The kernel's own selftests, built statically from the patched 5.10 tree,
# pass on this machine's kernel (which has the fix upstream).
test_selftests_5_10_build_and_pass_on_host() {
	[ -f out/patched/5.10/.zc-series ] || make -s patch KERNEL=5.10 >/dev/null
	scripts/selftests.sh 5.10 patched >/dev/null
	local d=out/selftests/5.10-patched p
	for p in tcp_mmap msg_zerocopy tcp_inq zc-selftests-run; do
		[ -x "$d/$p" ] || fail "$d/$p missing"
	done
	file -L "$d/tcp_mmap" | grep -q 'statically linked' || fail "tcp_mmap is not static"
	grep -q '^#define FILE_SZ (256ULL << 20)' "$d/src/tcp_mmap.c" || fail "tcp_mmap's FILE_SZ was not reduced"
	jq -e '.tree == "patched" and ([.programs[].name] == ["tcp_mmap", "msg_zerocopy", "tcp_inq"])' "$d/manifest.json" >/dev/null ||
		fail "manifest: $(cat "$d/manifest.json")"
	run_rc rc "$d/zc-selftests-run"
	assert_eq 0 "$rc" "zc-selftests-run on the host: $out"
	assert_contains "$out" "ok 1 tcp_mmap_v4"
	assert_contains "$out" "received 256 MB"
	assert_contains "$out" "# Totals: pass:6 fail:0"
}

# zc-selftests-<lts> of every line and of the control: lintian clean, the
# kernel's package version, the programs built with the line's own LDLIBS
# (6.12's tcp_mmap needs -lcrypto) in /usr/lib/zc-kernel/selftests/<line>/
# (5.10 for the control, as zc-smoke-boot looks it up from uname -r), and
# they pass from there on this machine's kernel.
test_selftests_packages_of_every_line() {
	local l line deb ver t
	for l in 5.10 6.1 6.12 control; do
		[ -f "out/patched/$l/.zc-series" ] || make -s patch KERNEL=$l >/dev/null
		run_rc rc scripts/package-selftests.sh $l
		assert_eq 0 "$rc" "package-selftests.sh $l: $out"
		read -r line ver < <(bash -c '. scripts/lib.sh && load_conf "$1" && echo "$SRC_LINE $CONF_VERSION+zc$CONF_ZC_REVISION"' _ "$l")
		deb=$(ls out/pkg/$l/selftests/zc-selftests-${l}_*_amd64.deb)
		assert_eq "$ver" "$(dpkg-deb -f "$deb" Version)" "$l: package version"
		t=$(mktemp -d)
		dpkg -x "$deb" "$t"
		for p in tcp_mmap msg_zerocopy tcp_inq zc-selftests-run manifest.json; do
			[ -f "$t/usr/lib/zc-kernel/selftests/$line/$p" ] || fail "$l: $p is not in /usr/lib/zc-kernel/selftests/$line/ of $deb"
		done
		file -L "$t/usr/lib/zc-kernel/selftests/$line/tcp_mmap" | grep -q 'statically linked' || fail "$l: tcp_mmap is not static"
		run_rc rc "$t/usr/lib/zc-kernel/selftests/$line/zc-selftests-run"
		rm -rf "$t"
		assert_eq 0 "$rc" "$l: the packaged selftests on the host: $out"
		assert_contains "$out" "# Totals: pass:6 fail:0" "$l"
	done
}

# The control may fail the new fast-path checks too, but must pass zc-stress
# and the selftests (no boot: the verdicts are written by hand).
test_expect_control_fail_new_checks_and_stress() {
	local o
	o=$(mktemp -d)
	mkdir -p "$o/results/control"
	v() { jq -n --arg r "$1" --argjson f "$2" --argjson s "$3" \
		'{name: "control", verdict: "fail", exit_code: 1, reason: $r, seconds: 1, failing_checks: $f, stress_exit: $s, selftests_exit: 0}' \
		>"$o/results/control/verdict.json"; }
	v "zc-smoke exit 1; failing checks: ..." '["inq_zero_v4","copybuf_oob_hint_v4","skip_hint_page_minus_1_v4","rst_err_v4","fin_data_copybuf_v4","abi_optlen_16_v4"]' 0
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 0 "$rc" "control failing the fast-path checks: $out"
	v "zc-smoke exit 1; failing checks: ...; zc-stress exit 1: # pair 0: ..." '["inq_zero_v4","copybuf_300_v4","skip_hint_300_v6"]' 1
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a control failing zc-stress"
	assert_contains "$out" "zc-stress or the selftests did not run and pass on the control (stress_exit 1"
	v "zc-smoke exit 1; failing checks: ..." '["inq_zero_v4","copybuf_300_v4","skip_hint_300_v6","misaligned_copybuf_v4"]' 0
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a control failing a regression check"
	# the selftests did not run: not the expected failure either
	v "zc-smoke exit 1; failing checks: ..." '["inq_zero_v4","copybuf_300_v4","skip_hint_300_v6"]' 0
	jq 'del(.selftests_exit)' "$o/results/control/verdict.json" >"$o/x" && mv "$o/x" "$o/results/control/verdict.json"
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a control whose selftests did not run"
	assert_contains "$out" "selftests_exit null"
	# debug: the control must count a VMA lookup and a read lock in every fast path
	mkdir -p "$o/results/control-debug"
	v "zc-smoke exit 1; failing checks: ...; zc-lockcount exit 1: ..." '["inq_zero_v4","copybuf_300_v4","skip_hint_300_v6"]' 0
	mv "$o/results/control/verdict.json" "$o/results/control-debug/verdict.json"
	jq -n '{cases: {baseline: {vma_lookups: 0, mmap_lock_read: 0},
		inq_zero: {vma_lookups: 200, mmap_lock_read: 200}, copybuf: {vma_lookups: 200, mmap_lock_read: 200},
		skip_hint: {vma_lookups: 200, mmap_lock_read: 200}}}' >"$o/results/control-debug/lockcount.json"
	run_rc rc env OUT="$o" PROFILE=debug scripts/smoke.sh --expect-control-fail
	assert_eq 0 "$rc" "a debug control with counts in every fast path: $out"
	jq '.cases.inq_zero.mmap_lock_read = 0' "$o/results/control-debug/lockcount.json" >"$o/x" && mv "$o/x" "$o/results/control-debug/lockcount.json"
	run_rc rc env OUT="$o" PROFILE=debug scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a debug control that took no lock in one fast path"
	assert_contains "$out" "zc-lockcount did not count"
	rm "$o/results/control-debug/lockcount.json"
	run_rc rc env OUT="$o" PROFILE=debug scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a debug control without lockcount.json"
	rm -rf "$o"
}
