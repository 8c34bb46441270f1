#!/usr/bin/env bash
# verdict.sh CONSOLE_LOG RESULTS_DIR NAME QEMU_RC SECONDS: turn what a booted
# guest printed into results. The guest prints, between markers:
#   @@ZC-SMOKE-BEGIN@@ ... TAP ... @@ZC-SMOKE-EXIT <rc>@@
#   @@ZC-STRESS-BEGIN@@ ... TAP ... @@ZC-STRESS-EXIT <rc>@@   (optional: zc-stress)
#   @@ZC-SELFTESTS-BEGIN@@ ... TAP ... @@ZC-SELFTESTS-EXIT <rc>@@   (optional)
#   @@ZC-LOCKCOUNT-EXIT <rc>@@ and its JSON "lockcount"   (optional; 4 = skipped)
#   @@ZC-JSON-BEGIN smoke@@ ... @@ZC-JSON-END smoke@@   ("bench", "stress" likewise)
#   @@ZC-SMOKE-END@@
# Writes RESULTS_DIR/{console.log,smoke.tap,smoke.json,bench.json,stress.tap,
# stress.json,selftests.tap,lockcount.json,verdict.json} and exits with the verdict's code, each with a
# one-line reason on stdout:
#   0 pass  1 fail (names the failing checks, zc-stress's first error, or the
#           failing selftests)  4 skip
#   10 panic (the panic line)  11 timeout  12 no result (booted, markers missing)
#   13 splat: the kernel logged BUG:, WARNING:, a KASAN or lockdep report, a
#      sleep in atomic context, a hung task or a UBSAN report, even if every
#      check passed; verdict.json has the excerpt (.splat)
set -euo pipefail

console=$1 dir=$2 name=$3 qrc=$4 secs=$5
mkdir -p "$dir"
if [ -f "$console" ]; then
	[ "$console" -ef "$dir/console.log" ] || cp "$console" "$dir/console.log"
	tr -d '\r' <"$console" >"$dir/.console"
else
	# qemu stopped (or was stopped) before it opened its serial file: an
	# empty console, judged like any other (timeout, no result)
	: >"$dir/console.log"
	: >"$dir/.console"
fi
rm -f "$dir/smoke.tap" "$dir/smoke.json" "$dir/bench.json" "$dir/stress.tap" "$dir/stress.json" "$dir/selftests.tap" "$dir/lockcount.json"

between() { # between BEGIN END: the lines strictly between two marker lines
	awk -v b="$1" -v e="$2" 'index($0, e) { exit } f { print } index($0, b) { f = 1 }' "$dir/.console"
}

between '@@ZC-SMOKE-BEGIN@@' '@@ZC-SMOKE-EXIT' | grep -E '^(TAP version|1\.\.|ok |not ok |# |Bail out!)' >"$dir/smoke.tap" || true
between '@@ZC-STRESS-BEGIN@@' '@@ZC-STRESS-EXIT' | grep -E '^(TAP version|1\.\.|ok |not ok |# |Bail out!)' >"$dir/stress.tap" || true
[ -s "$dir/stress.tap" ] || rm -f "$dir/stress.tap"
between '@@ZC-SELFTESTS-BEGIN@@' '@@ZC-SELFTESTS-EXIT' | grep -E '^(TAP version|1\.\.|ok |not ok |# |Bail out!)' >"$dir/selftests.tap" || true
[ -s "$dir/selftests.tap" ] || rm -f "$dir/selftests.tap"
for doc in smoke bench stress lockcount; do
	between "@@ZC-JSON-BEGIN $doc@@" "@@ZC-JSON-END $doc@@" >"$dir/$doc.json.tmp" || true
	if [ -s "$dir/$doc.json.tmp" ] && jq -e . "$dir/$doc.json.tmp" >/dev/null 2>&1; then
		mv "$dir/$doc.json.tmp" "$dir/$doc.json"
	else
		rm -f "$dir/$doc.json.tmp"
	fi
done
[ -s "$dir/smoke.tap" ] || rm -f "$dir/smoke.tap"

rc_line=$(grep -a -o '@@ZC-SMOKE-EXIT [0-9]*@@' "$dir/.console" | head -n1 || true)
panic=$(grep -a -m1 -E 'Kernel panic - not syncing|BUG: kernel NULL pointer|general protection fault' "$dir/.console" || true)
# Kernel splats: what a debug kernel reports without panicking. KASAN
# ("BUG: KASAN: ..."), lockdep ("WARNING: possible circular locking ...",
# "WARNING: inconsistent lock state", "WARNING: suspicious RCU usage"),
# DEBUG_ATOMIC_SLEEP ("BUG: sleeping function called from invalid context"),
# DEBUG_LIST (a WARNING at lib/list_debug.c), hung tasks, UBSAN, WARN_ON and
# BUG_ON. The excerpt is the first such line and the 20 lines after it.
# Kernel messages only: at the start of a line, after an optional printk time.
splat_re='^(\[ *[0-9]+\.[0-9]+\] )?(BUG: |WARNING: |kernel BUG at |UBSAN: |Oops: |INFO: task .* blocked for more than )'
splat=$(grep -a -n -m1 -E "$splat_re" "$dir/.console" | cut -d: -f1 || true)
splat_text=""
if [ -n "$splat" ]; then
	splat_text=$(sed -n "${splat},$((splat + 20))p" "$dir/.console" | cut -c1-200)
fi
stress_line=$(grep -a -o '@@ZC-STRESS-EXIT [0-9]*@@' "$dir/.console" | head -n1 || true)
stress_rc=""
if [ -n "$stress_line" ]; then
	stress_rc=${stress_line#@@ZC-STRESS-EXIT }
	stress_rc=${stress_rc%@@}
fi
lock_line=$(grep -a -o '@@ZC-LOCKCOUNT-EXIT [0-9]*@@' "$dir/.console" | head -n1 || true)
lock_rc=""
if [ -n "$lock_line" ]; then
	lock_rc=${lock_line#@@ZC-LOCKCOUNT-EXIT }
	lock_rc=${lock_rc%@@}
fi
self_line=$(grep -a -o '@@ZC-SELFTESTS-EXIT [0-9]*@@' "$dir/.console" | head -n1 || true)
self_rc=""
if [ -n "$self_line" ]; then
	self_rc=${self_line#@@ZC-SELFTESTS-EXIT }
	self_rc=${self_rc%@@}
fi
failing=""
if [ -f "$dir/smoke.tap" ]; then
	failing=$(sed -n 's/^not ok [0-9]* \([^ #]*\).*/\1/p' "$dir/smoke.tap" | tr '\n' ' ' | sed 's/ $//')
fi

if [ -n "$rc_line" ] && grep -aq '@@ZC-SMOKE-END@@' "$dir/.console"; then
	src=${rc_line#@@ZC-SMOKE-EXIT }
	src=${src%@@}
	case "$src" in
	0) verdict=pass code=0 reason="all checks passed" ;;
	4) verdict=skip code=4 reason="zc-smoke skipped: $(grep -m1 -o 'SKIP.*' "$dir/smoke.tap" 2>/dev/null || echo 'no reason given')" ;;
	*) verdict=fail code=1 reason="zc-smoke exit $src; failing checks: ${failing:-none named}" ;;
	esac
	if [ -n "$stress_rc" ] && [ "$stress_rc" != 0 ] && [ "$stress_rc" != 4 ]; then
		[ "$verdict" = fail ] && reason="$reason; " || reason=""
		verdict=fail code=1
		reason="${reason}zc-stress exit $stress_rc: $(grep -a -m1 -E '^# pair [0-9]+: ' "$dir/stress.tap" 2>/dev/null || echo 'no error line')"
	fi
	if [ -n "$lock_rc" ] && [ "$lock_rc" != 0 ] && [ "$lock_rc" != 4 ]; then
		[ "$verdict" = fail ] && reason="$reason; " || reason=""
		verdict=fail code=1
		reason="${reason}zc-lockcount exit $lock_rc: $(jq -r '[.cases // {} | to_entries[] | "\(.key) \(.value.vma_lookups) VMA lookups, \(.value.mmap_lock_read) read locks"] | join(", ")' "$dir/lockcount.json" 2>/dev/null || echo 'no JSON')"
	fi
	if [ -n "$self_rc" ] && [ "$self_rc" != 0 ] && [ "$self_rc" != 4 ]; then
		[ "$verdict" = fail ] && reason="$reason; " || reason=""
		verdict=fail code=1
		reason="${reason}selftests exit $self_rc: $(sed -n 's/^not ok [0-9]* \([^ #]*\).*/\1/p' "$dir/selftests.tap" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
	fi
elif [ -n "$panic" ]; then
	verdict=panic code=10 reason="kernel panic: $(sed 's/^\[[ 0-9.]*\] //' <<<"$panic")"
fi
if [ -n "$splat_text" ] && [ "${verdict:-}" != panic ]; then
	# A splat is its own verdict, whatever the checks said.
	reason="kernel splat: $(head -n1 <<<"$splat_text" | sed 's/^\[[ 0-9.]*\] //')${verdict:+ (checks: $verdict)}"
	verdict=splat code=13
elif [ -n "${verdict:-}" ]; then
	:
elif [ "$qrc" = 124 ]; then
	verdict=timeout code=11 reason="no verdict within ${secs}s (last console line: $( (grep -a . "$dir/.console" || echo 'none: the console is empty') | tail -n1 | cut -c1-120))"
else
	verdict=no-result code=12 reason="the guest stopped (qemu exit $qrc) without the zc-smoke end marker"
fi
rm -f "$dir/.console"

jq -n --arg name "$name" --arg verdict "$verdict" --argjson code "$code" --arg reason "$reason" \
	--argjson seconds "$secs" --arg failing "$failing" --arg splat "$splat_text" --arg stress "$stress_rc" --arg self "$self_rc" --arg lock "$lock_rc" \
	'{name: $name, verdict: $verdict, exit_code: $code, reason: $reason, seconds: $seconds,
	  failing_checks: ($failing | split(" ") | map(select(. != ""))),
	  splat: (if $splat == "" then null else $splat end),
	  stress_exit: (if $stress == "" then null else ($stress | tonumber) end),
	  selftests_exit: (if $self == "" then null else ($self | tonumber) end),
	  lockcount_exit: (if $lock == "" then null else ($lock | tonumber) end)}' >"$dir/verdict.json"
echo "$verdict: $reason"
exit "$code"
