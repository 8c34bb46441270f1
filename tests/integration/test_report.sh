# shellcheck shell=bash
# The results page (scripts/report.sh) rendered in headless Chromium, the
# statistics (scripts/stats.py), the benchmark's JSON and the stage summary.
# Chromium comes from Debian (scripts/deps.sh report), installed when missing.

chromium_flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync --hide-scrollbars)

need_chromium() {
	command -v chromium >/dev/null || scripts/deps.sh report >&2 || skip "chromium could not be installed (scripts/deps.sh report)"
	command -v chromium >/dev/null || skip "no chromium after scripts/deps.sh report"
}

# check_page PAGE KERNEL=VERDICT...: render PAGE; fail unless every image
# loaded and every kernel's row shows its verdict. The DOM after the page's
# load handler ran is in $PAGE.dom, a screenshot in $PAGE.png.
check_page() {
	local page=$1 kv k v prof body n
	shift
	prof=$(mktemp -d)
	timeout 90 chromium "${chromium_flags[@]}" --user-data-dir="$prof" --virtual-time-budget=5000 \
		--dump-dom "file://$page" >"$page.dom" 2>"$page.log" || { rm -rf "$prof"; fail "chromium could not render $page: $(tail -n 3 "$page.log")"; return 1; }
	timeout 90 chromium "${chromium_flags[@]}" --user-data-dir="$prof" --window-size=1400,2400 \
		--screenshot="$page.png" "file://$page" >/dev/null 2>&1 || true
	rm -rf "$prof"
	body=$(grep -o '<body[^>]*>' "$page.dom" | head -n1)
	[[ $body == *'data-images-missing="none"'* ]] || { fail "images missing in the rendered page: $body"; return 1; }
	n=$(grep -c '<img ' "$page.dom" || true)
	[[ $body == *"data-images=\"$n\""* ]] || { fail "the page has $n <img>, its load check saw: $body"; return 1; }
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		grep -q "<tr data-kernel=\"$k\" data-verdict=\"$v\"><td><b>$k</b>" "$page.dom" ||
			{ fail "kernel $k with verdict '$v' is not shown in the page"; return 1; }
		grep -A3 "<tr data-kernel=\"$k\"" "$page.dom" | grep -q "class=\"v v-$v\">$v</span>" ||
			{ fail "kernel $k: its verdict badge '$v' is not shown"; return 1; }
	done
	[ -s "$page.png" ] || { fail "no screenshot of $page"; return 1; }
}

# report_fixture OUT: results as the pipeline writes them for a passing 5.10
# and a failing control (real zc-smoke and zc-rpc-bench JSON of this machine),
# nothing for 6.1 and 6.12, stage records and a gate decision.
report_fixture() {
	local o=$1 k
	mkdir -p "$o/results/5.10" "$o/results/control" "$o/status/5.10" "$o/status/control" "$o/build/smoke/5.10"
	out/bin/zc-smoke --json "$o/results/5.10/smoke.json" >/dev/null
	out/bin/zc-rpc-bench --suite ab --repeat 3 --warmup 1 --duration 0.05 --contend-mb 8 \
		--json "$o/results/5.10/bench.json" >/dev/null
	cp "$o/results/5.10/bench.json" "$o/results/control/bench.json"
	jq '.checks |= map(if (.name | test("^inq_zero")) then .verdict = "fail" else . end)' \
		"$o/results/5.10/smoke.json" >"$o/results/control/smoke.json"
	jq -n '{name: "5.10", verdict: "pass", exit_code: 0, reason: "all checks passed", seconds: 25.3, failing_checks: []}' \
		>"$o/results/5.10/verdict.json"
	jq -n '{name: "control", verdict: "fail", exit_code: 1, reason: "zc-smoke exit 1; failing checks: inq_zero_v4 inq_zero_v6",
		seconds: 26.1, failing_checks: ["inq_zero_v4", "inq_zero_v6"]}' >"$o/results/control/verdict.json"
	for k in 5.10 control; do
		jq -n '{accel: "tcg", boot_to_verdict_seconds: 25.3, image: "x.raw"}' >"$o/results/$k/boot.json"
		jq -n --arg k "$k" '[{file: "out/pkg/\($k)/deb/linux-image-x_\($k).deb", sha256: ("ab" * 32)}]' >"$o/results/$k/tested-packages.json"
		scripts/bench.sh stats "$o/results/$k"
		printf 'ok\t3\tx (up to date)\n' >"$o/status/$k/kernel"
		printf 'ok\t31\tpass 25.3s tcg\n' >"$o/status/$k/smoke"
	done
	mkdir -p "$o/images/control"
	jq -n '{image: "zc-control_5.10.262-1-zc0-smoke.raw", krel: "5.10.262-1-zc0-smoke"}' >"$o/images/control/image.json"
	: >"$o/images/control/zc-control_5.10.262-1-zc0-smoke.raw"
	jq -n '{krel: "5.10.262-1-zc1-smoke", pkgver: "5.10.262-1+zc1", build_seconds: 476, objects_compiled: 1900}' \
		>"$o/build/smoke/5.10/build.json"
	"$TOP/scripts/stats.py" ab "$o/results/5.10/bench.json" "$o/results/control/bench.json" -o "$o/results/bench-ab.json"
	jq -n '{verdict: "fail", time: "2026-12-01T00:00:00Z", failed_kernels: ["control"],
		kernels: [{name: "5.10", verdict: "pass", problems: []},
			  {name: "control", verdict: "fail", problems: ["control: check inq_zero_v4 failed"]}]}' >"$o/gate.json"
	OUT=$o SUMMARY_REPORT=0 scripts/summary.sh 5.10 6.1 6.12 control >/dev/null || true
}

test_report_page_renders_with_every_verdict_and_image() {
	need_chromium
	local o
	o=$(mktemp -d)
	report_fixture "$o"
	OUT=$o scripts/report.sh >/dev/null
	[ "$(jq '.plots | length' "$o/report/report.json")" = 4 ] || fail "expected 4 plots: $(jq -c .plots "$o/report/report.json")"
	check_page "$o/report/index.html" 5.10=pass control=fail 6.1=missing 6.12=missing
	# The failing control has its reproducer: the image's boot limited to the failing checks.
	grep -q 'zc.smoke.only=inq_zero_v4,inq_zero_v6 zc.bench.repeat=0' "$o/report/index.html" ||
		fail "no zc.smoke.only reproducer for the control"
	grep -q 'make image smoke KERNEL=6.1' "$o/report/index.html" || fail "no reproducer for the missing 6.1 result"
	grep -q 'data-gate="fail"' "$o/report/index.html" || fail "the gate decision is not shown"
	rm -rf "$o"
}

test_report_browser_check_can_fail() {
	need_chromium
	local o rc
	o=$(mktemp -d)
	report_fixture "$o"
	OUT=$o scripts/report.sh >/dev/null
	rm "$o/report/contention.png"
	run_rc rc check_page "$o/report/index.html" 5.10=pass
	assert_eq 1 "$rc" "check of a page with a missing image"
	assert_contains "$out" "contention.png"
	OUT=$o scripts/report.sh >/dev/null
	sed -i 's/data-kernel="control" data-verdict="fail"/data-kernel="control" data-verdict="pass"/' "$o/report/index.html"
	run_rc rc check_page "$o/report/index.html" control=fail
	assert_eq 1 "$rc" "check of a page that does not show the control's verdict"
	rm -rf "$o"
}

test_report_without_results_says_missing() {
	need_chromium
	local o
	o=$(mktemp -d)
	OUT=$o scripts/report.sh >/dev/null
	grep -q 'no gate decision' "$o/report/index.html" || fail "missing gate not reported"
	grep -q 'no benchmark statistics' "$o/report/index.html" || fail "missing bench not reported"
	check_page "$o/report/index.html" 5.10=missing 6.1=missing 6.12=missing control=missing
	rm -rf "$o"
}

test_summary_reports_the_work_not_the_noop_pass() {
	local o
	o=$(mktemp -d)
	mkdir -p "$o/status/5.10" "$o/build/smoke/5.10"
	printf 'ok\t2\t5.10.262-1-zc1-smoke (up to date)\n' >"$o/status/5.10/kernel"
	printf 'ok\t30\tpass 25s tcg\n' >"$o/status/5.10/smoke"
	jq -n '{build_seconds: 476, objects_compiled: 1900}' >"$o/build/smoke/5.10/build.json"
	run_rc rc env OUT="$o" SUMMARY_REPORT=0 scripts/summary.sh 5.10
	assert_eq 0 "$rc" "summary exit"
	assert_contains "$out" "ok 476s (built"
	jq -e '.kernels[0] | .name == "5.10" and (.stages.kernel | .work_seconds == 476 and .noop and .seconds == 2)' "$o/summary.json" >/dev/null ||
		fail "summary.json: $(jq -c .kernels "$o/summary.json")"
	jq -e '.stage_totals == {kernel: 476, smoke: 30}' "$o/summary.json" >/dev/null ||
		fail "stage totals: $(jq -c .stage_totals "$o/summary.json")"
	# A build that waited 424 s for the machine's build lock: the work is 476 s.
	printf 'ok\t900\t5.10.262-1-zc1-smoke 476s\n' >"$o/status/5.10/kernel"
	run_rc rc env OUT="$o" SUMMARY_REPORT=0 scripts/summary.sh 5.10
	assert_contains "$out" "ok 476s (+424s waiting)"
	jq -e '.stage_totals.kernel == 476' "$o/summary.json" >/dev/null || fail "stage totals: $(jq -c .stage_totals "$o/summary.json")"
	rm -rf "$o"
}

# Synthetic runs: the patched kernel's contention effect near 1, the control's
# near 3 (and, second time, the same as the patched one).
synthetic_bench() { # synthetic_bench FILE HYBRID_P99_FACTOR
	jq -n --argjson f "$2" '
		def s(p99): [range(12) | {round: (. + 1), qps: (1000 + . * 7), latency_us: {p50: 20, p99: (p99 * (1 + (. % 3) * 0.01))}}];
		{kernel: "k", repeat: 12, warmup: 1, suite: "ab",
		 configs: [{name: "recv-contend", samples: s(100)}, {name: "hybrid-contend", samples: s(100 * $f)}]}' >"$1"
}

test_stats_intervals_and_criterion() {
	local d
	d=$(mktemp -d)
	synthetic_bench "$d/p.json" 1.0
	synthetic_bench "$d/c.json" 3.0
	scripts/stats.py summarize "$d/c.json" -o "$d/cs.json"
	jq -e '.configs["recv-contend"].metrics.qps | .n == 12 and .median == 1038.5 and .ci95[0] <= .median and .ci95[1] >= .median and (.samples | length) == 12' \
		"$d/cs.json" >/dev/null || fail "qps statistics: $(jq -c '.configs["recv-contend"].metrics.qps | del(.samples)' "$d/cs.json")"
	jq -e '.effects.contention_p99.median > 2.9 and .effects.contention_p99.median < 3.1' "$d/cs.json" >/dev/null ||
		fail "contention effect: $(jq -c '.effects.contention_p99 | del(.samples)' "$d/cs.json")"
	scripts/stats.py ab "$d/p.json" "$d/c.json" -o "$d/ab.json"
	jq -e '.criterion | .decided and .pass and .ci95[0] > 1' "$d/ab.json" >/dev/null || fail "criterion: $(jq -c .criterion "$d/ab.json")"
	scripts/stats.py ab "$d/p.json" "$d/p.json" -o "$d/ab2.json"
	jq -e '.criterion | .decided and (.pass | not)' "$d/ab2.json" >/dev/null || fail "the same kernel twice passed: $(jq -c .criterion "$d/ab2.json")"
	rm -rf "$d"
}

test_bench_suite_keeps_every_run_and_sees_the_fix_on_this_kernel() {
	local j
	j=$(mktemp)
	out/bin/zc-rpc-bench --suite ab --repeat 2 --warmup 1 --duration 0.05 --contend-mb 8 --json "$j" >/dev/null
	jq -e '(.configs | length) == 10 and all(.configs[]; (.samples | length) == 2 and (.latency_cdf_us | length) > 50)' "$j" >/dev/null ||
		fail "configs: $(jq -c '[.configs[] | {name, n: (.samples | length)}]' "$j")"
	jq -e 'all(.configs[].samples[]; .latency_us.p99 >= .latency_us.p50 and .system_cpu_seconds >= 0 and has("softirq_seconds"))' "$j" >/dev/null ||
		fail "a run lacks its percentiles or system CPU"
	jq -e '[.configs[] | select(.contend == "mprotect") | .samples[].writer_ops] | all(. > 0)' "$j" >/dev/null ||
		fail "the mmap_lock writer did not run"
	# The host kernel has the fix: a foreign address and a request in two skbs
	# are copied, with no error and no failed copy (a kernel without it fails both).
	jq -e '.configs[] | select(.name == "hybrid-foreign") | all(.samples[]; .getsockopt_errors_per_rpc == 0 and .per_rpc.recv == 0)' "$j" >/dev/null ||
		fail "hybrid-foreign: $(jq -c '.configs[] | select(.name == "hybrid-foreign") | [.samples[] | {getsockopt_errors_per_rpc, per_rpc}]' "$j")"
	jq -e '.configs[] | select(.name == "hybrid-2skb") | all(.samples[]; .copy_failures_per_rpc == 0 and .syscalls_per_rpc_excl_wait == 2)' "$j" >/dev/null ||
		fail "hybrid-2skb: $(jq -c '.configs[] | select(.name == "hybrid-2skb") | [.samples[] | {copy_failures_per_rpc, syscalls_per_rpc_excl_wait}]' "$j")"
	jq -e '[.modes[].mode] == ["recv", "zc", "hybrid"]' "$j" >/dev/null || fail "the 1.0 modes are missing"
	rm -f "$j"
}
