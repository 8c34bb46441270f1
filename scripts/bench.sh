#!/usr/bin/env bash
# bench.sh: zc-rpc-bench with statistics.
#   bench.sh host            the "ab" suite on this machine's kernel: every
#                            configuration BENCH_REPEAT times (default 10),
#                            interleaved, after BENCH_WARMUP discarded rounds
#                            (default 1), BENCH_DURATION seconds a run
#                            (default 0.5); then the medians with 95 %
#                            intervals. Writes $OUT/results/host/bench.json
#                            (raw runs) and bench-stats.json.
#   bench.sh stats DIR       DIR/bench.json -> DIR/bench-stats.json
#   bench.sh ab PATCHED_DIR CONTROL_DIR OUT.json
#                            control against patched, the same suite in each:
#                            ratios of medians with intervals and the gate's
#                            criterion (scripts/stats.py)
#   bench.sh table FILE      the medians and intervals of a bench-stats.json
# The repeats and their interleaving are done by zc-rpc-bench itself
# (--repeat, --warmup: round r runs the configurations rotated by r), so the
# same harness runs inside the images (images/.../zc-smoke-boot).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

stats=("$TOP/scripts/stats.py")
rel() { realpath -m --relative-to="$PWD" "$1"; }

# table STATS.json: one line per configuration, median [95 % interval].
table() {
	jq -r '"zc-rpc-bench on \(.kernel): median [95 % bootstrap interval] of \(.repeat) interleaved runs per configuration (\(.warmup) warm-up round(s) discarded)"' "$1"
	jq -r '
		def ci(m): if m == null then "-" elif m.ci95 == null then (m.median | tostring)
			else "\(m.median | . * 100 | round / 100) [\(m.ci95[0] | . * 100 | round / 100), \(m.ci95[1] | . * 100 | round / 100)]" end;
		(["configuration", "sys/RPC-waits", "QPS/sysCPU-s", "p50_us", "p99_us", "p99.9_us"] | @tsv),
		(.configs | to_entries[] | .value.metrics as $m |
			[.key, ci($m["syscalls_per_rpc_excl_wait"]), ci($m["qps_per_system_cpu_second"]),
			 ci($m["latency_us.p50"]), ci($m["latency_us.p99"]), ci($m["latency_us.p999"])] | @tsv)
	' "$1" | column -t -s $'\t'
	echo "within-run effects (ratio per round, median [95 % interval]):"
	jq -r '
		def ci(m): "\(m.median | . * 100 | round / 100) [\(m.ci95[0] // 0 | . * 100 | round / 100), \(m.ci95[1] // 0 | . * 100 | round / 100)]";
		.effects | to_entries[] | "  \(.key): \(ci(.value))  (\(.value.definition))"' "$1"
}

case "${1:-}" in
host)
	bin="$OUT/bin/zc-rpc-bench"
	[ -x "$bin" ] || die "$bin is missing: run 'make c-bins' (or 'make bench-host')"
	dir="$OUT/results/host"
	mkdir -p "$dir"
	n=${BENCH_REPEAT:-10} w=${BENCH_WARMUP:-1} d=${BENCH_DURATION:-0.5}
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "BENCH_REPEAT must be a positive number, not '$n'"
	[[ $w =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, not '$w'"
	ncfg=$("$bin" --suite ab --list | wc -l)
	log bench host "$(uname -r): suite ab, $ncfg configurations x ($n + $w warm-up) runs of ${d}s, about $(echo "$ncfg * ($n + $w) * $d" | bc | cut -d. -f1)s"
	rc=0
	"$bin" --suite ab --repeat "$n" --warmup "$w" --duration "$d" --json "$dir/bench.json.tmp" >"$dir/bench.txt" || rc=$?
	[ "$rc" = 0 ] || { cat "$dir/bench.txt"; rm -f "$dir/bench.json.tmp"; die "zc-rpc-bench exited $rc (see above)"; }
	mv "$dir/bench.json.tmp" "$dir/bench.json"
	"${stats[@]}" summarize "$dir/bench.json" -o "$dir/bench-stats.json"
	table "$dir/bench-stats.json"
	echo "(raw runs in $(rel "$dir/bench.json"), medians and intervals in $(rel "$dir/bench-stats.json"))"
	;;
stats)
	[ -f "${2:-}/bench.json" ] || die "usage: bench.sh stats DIR (DIR/bench.json must exist)"
	"${stats[@]}" summarize "$2/bench.json" -o "$2/bench-stats.json"
	;;
ab)
	[ $# = 4 ] || die "usage: bench.sh ab PATCHED_DIR CONTROL_DIR OUT.json"
	for d in "$2" "$3"; do [ -f "$d/bench.json" ] || die "$d/bench.json is missing: boot that kernel first (make smoke)"; done
	"${stats[@]}" ab "$2/bench.json" "$3/bench.json" -o "$4"
	jq -r '.criterion | "bench A/B \(.name): \(.reason)"' "$4"
	;;
table)
	[ -f "${2:-}" ] || die "usage: bench.sh table BENCH-STATS.json"
	table "$2"
	;;
*)
	die "usage: bench.sh host | stats DIR | ab PATCHED_DIR CONTROL_DIR OUT.json | table FILE"
	;;
esac
