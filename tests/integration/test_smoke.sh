# shellcheck shell=bash
# zc-smoke and zc-rpc-bench: on this machine's kernel, and on pristine versus
# patched 5.10 booted in qemu with a busybox initramfs.

test_zc_smoke_passes_on_host() {
	make -s smoke-host >/dev/null
	jq -e '.summary.fail == 0 and .summary.pass > 20' out/results/host/smoke.json >/dev/null ||
		fail "host smoke JSON: $(jq -c .summary out/results/host/smoke.json)"
	jq -e '.kernel | length > 0' out/results/host/smoke.json >/dev/null || fail "no kernel in JSON"
	jq -e '[.checks[] | select(.name | test("^(inq_zero|copybuf|skip_hint)"))] | length == 18' \
		out/results/host/smoke.json >/dev/null || fail "the three fast paths are not all checked"
}

test_zc_smoke_cli() {
	local b=out/bin/zc-smoke
	run_rc rc "$b" --list
	assert_eq 0 "$rc" "--list exit"
	assert_contains "$out" "inq_zero_v4"
	assert_contains "$out" "mmap_zerocopy"
	run_rc rc "$b" --only inq_zero_v4,skip_hint_300_v6 --quiet
	assert_eq 0 "$rc" "--only exit"
	assert_contains "$out" "1..2"
	run_rc rc "$b" --only no_such_check
	assert_eq 2 "$rc" "unknown --only name"
	assert_contains "$out" "no_such_check"
	run_rc rc "$b" --bogus
	assert_eq 2 "$rc" "bad option"
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
	run_rc rc scripts/quick-smoke.sh 5.10 patched
	assert_eq 0 "$rc" "verdict code of patched 5.10"
	jq -e '.verdict == "pass"' out/results/quick/5.10-patched/verdict.json >/dev/null
	jq -e '.summary.fail == 0' out/results/quick/5.10-patched/smoke.json >/dev/null
	assert_contains "$(cat out/results/quick/5.10-patched/console.log)" "@@ZC-KERNEL 5.10.223"
}

test_quick_smoke_pristine_5_10_fails_the_fast_paths() {
	run_rc rc scripts/quick-smoke.sh 5.10 pristine
	assert_eq 1 "$rc" "verdict code of pristine 5.10 (fail)"
	local tap=out/results/quick/5.10-pristine/smoke.tap c
	for c in inq_zero_v4 inq_zero_v6 copybuf_300_v4 copybuf_two_sends_v4 skip_hint_300_v4 skip_hint_4095_v6; do
		grep -q "^not ok [0-9]* $c\$" "$tap" || fail "$c is not 'not ok' on pristine 5.10"
	done
	# The normal zerocopy path works on both: only the fast paths tell them apart.
	grep -q '^ok [0-9]* mmap_zerocopy$' "$tap" || fail "mmap_zerocopy should pass on pristine 5.10"
	jq -e '.verdict == "fail" and (.failing_checks | index("inq_zero_v4"))' out/results/quick/5.10-pristine/verdict.json >/dev/null
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
}
