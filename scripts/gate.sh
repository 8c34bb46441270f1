#!/usr/bin/env bash
# gate.sh KERNEL...: the promotion gate. Reads $OUT/results/<k>/ and
# $OUT/pkg/<k>/ for every kernel given and writes
#   $OUT/gate.json        one verdict per kernel and one overall, with the
#                         sha256 of every package that was tested;
#   $OUT/gate-junit.xml   one testcase per kernel and check, for CI dashboards.
# Exit 0 when every kernel passed every check, 1 otherwise (both files are
# written either way; a failing gate says why, per kernel).
#
# Per kernel, the tests are:
#   results         verdict.json, smoke.json, bench.json, tested-packages.json present and valid
#   boot            verdict.json says pass
#   check:<name>    one per zc-smoke check: pass (a skip is not a pass)
#   bench           zc-rpc-bench: hybrid makes fewer syscalls per RPC (excluding
#                   the wait) than zc
#   kernel-release  smoke.json and bench.json ran on the kernel that was packaged
#                   ($OUT/pkg/<k>/KREL)
#   freshness       every package in tested-packages.json still exists with the
#                   same sha256, and every package under $OUT/pkg/<k>/ was tested
# There is no special case for any kernel: the unpatched control kernel fails
# because its results fail.
#
# Package paths in tested-packages.json are relative to the project top
# ("out/pkg/5.10/deb/x.deb"); "out/" stands for $OUT, so results and packages
# can be moved together (CI artifacts) or live in another OUT.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$#" -gt 0 ] || die "no kernels given: gate.sh KERNEL... (make gate uses KERNELS=\"5.10 6.1 6.12\")"
for k in "$@"; do
	[[ $k =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad kernel name '$k': expected a kernel line like 5.10 or 'control'"
done
command -v jq >/dev/null || die "jq is missing: run 'make deps'"

gate_json=$OUT/gate.json
gate_xml=$OUT/gate-junit.xml
mkdir -p "$OUT"
# A gate that crashes must not leave an older passing verdict behind.
rm -f "$gate_json" "$gate_xml"
work=$(mktemp -d "$OUT/.gate.XXXXXX")
cleanup_on_exit "$work"

# rel PATH: "out/..." for a path under $OUT (how the records name files).
rel() {
	local p=$1
	case "$p" in
	"$OUT"/*) echo "out/${p#"$OUT"/}" ;;
	"$TOP"/*) echo "${p#"$TOP"/}" ;;
	*) echo "$p" ;;
	esac
}
# resolve NAME: the file a record names ("out/..." is under $OUT).
resolve() {
	local n=$1
	case "$n" in
	out/*) echo "$OUT/${n#out/}" ;;
	/*) echo "$n" ;;
	*) echo "$TOP/$n" ;;
	esac
}

# add_test NAME PASS(true|false) MESSAGE: one testcase of the current kernel.
add_test() {
	jq -cn --arg name "$1" --argjson pass "$2" --arg msg "$3" \
		'{name: $name, pass: $pass, message: $msg}' >>"$tests"
}

json_ok() { [ -f "$1" ] && jq -e . "$1" >/dev/null 2>&1; }

gate_kernel() {
	local k=$1 res="$OUT/results/$1" pkgdir="$OUT/pkg/$1"
	local f missing=() bad=() krel="" m
	tests="$work/$k.tests.jsonl"
	: >"$tests"
	echo '[]' >"$work/$k.packages.json"

	# results: which files are there, and are they JSON.
	if [ ! -d "$res" ]; then
		add_test results false "no results for $k: $(rel "$res") does not exist. Run 'make smoke KERNEL=$k' (after building its packages and image)."
	else
		for f in verdict.json smoke.json bench.json tested-packages.json; do
			if [ ! -f "$res/$f" ]; then
				missing+=("$f")
			elif ! json_ok "$res/$f"; then
				bad+=("$f")
			fi
		done
		if [ "${#missing[@]}" -eq 0 ] && [ "${#bad[@]}" -eq 0 ]; then
			add_test results true "all result files present in $(rel "$res")"
		else
			m="incomplete results for $k in $(rel "$res"):"
			[ "${#missing[@]}" -eq 0 ] || m+=" missing ${missing[*]};"
			[ "${#bad[@]}" -eq 0 ] || m+=" not valid JSON: ${bad[*]};"
			add_test results false "$m the boot did not finish or the results were cut. Run 'make smoke KERNEL=$k' again."
		fi
	fi

	# boot: the verdict of the boot stage.
	if json_ok "$res/verdict.json"; then
		local v reason
		v=$(jq -r '.verdict // "missing"' "$res/verdict.json")
		reason=$(jq -r '.reason // ""' "$res/verdict.json")
		if [ "$v" = pass ]; then
			add_test boot true "$reason"
		else
			add_test boot false "$k: boot verdict '$v': $reason"
		fi
	else
		add_test boot false "$k: no boot verdict ($(rel "$res")/verdict.json missing or invalid)"
	fi

	# check:<name>: every zc-smoke check.
	if json_ok "$res/smoke.json"; then
		local n
		n=$(jq '[.checks[]?] | length' "$res/smoke.json")
		if [ "$n" = 0 ]; then
			add_test smoke false "$k: smoke.json lists no checks"
		fi
		jq -c '.checks[]? | {name: ("check:" + .name),
			pass: (.verdict == "pass"),
			message: (if .verdict == "pass" then (.reason // "pass")
				else "\($k): check \(.name) \(.verdict): \(.reason // "")" +
					(if .expected then " (expected \(.expected))" else "" end) end)}' \
			--arg k "$k" "$res/smoke.json" >>"$tests"
	else
		add_test smoke false "$k: no smoke checks ($(rel "$res")/smoke.json missing or invalid)"
	fi

	# bench: hybrid must save syscalls over zc.
	if json_ok "$res/bench.json"; then
		local zc hy
		zc=$(jq -r '[.modes[]? | select(.mode == "zc") | .syscalls_per_rpc_excl_wait][0] // empty' "$res/bench.json")
		hy=$(jq -r '[.modes[]? | select(.mode == "hybrid") | .syscalls_per_rpc_excl_wait][0] // empty' "$res/bench.json")
		if [ -z "$zc" ] || [ -z "$hy" ]; then
			add_test bench false "$k: bench.json has no zc or hybrid syscalls_per_rpc_excl_wait"
		elif jq -en --argjson h "$hy" --argjson z "$zc" '$h < $z' >/dev/null; then
			add_test bench true "hybrid $hy < zc $zc syscalls per RPC (excluding the wait)"
		else
			add_test bench false "$k: hybrid makes $hy syscalls per RPC, zc $zc: hybrid must make fewer (the short-circuit is not working)"
		fi
	else
		add_test bench false "$k: no benchmark ($(rel "$res")/bench.json missing or invalid)"
	fi

	# kernel-release: the results come from the kernel that was packaged.
	if [ -f "$pkgdir/KREL" ]; then
		krel=$(tr -d '[:space:]' <"$pkgdir/KREL")
		local sk bk
		sk=$(jq -r '.kernel // empty' "$res/smoke.json" 2>/dev/null || true)
		bk=$(jq -r '.kernel // empty' "$res/bench.json" 2>/dev/null || true)
		if [ "$sk" = "$krel" ] && { [ -z "$bk" ] || [ "$bk" = "$krel" ]; }; then
			add_test kernel-release true "results from $krel"
		else
			add_test kernel-release false "$k: the packages are $krel but the smoke test ran on '${sk:-?}' (bench on '${bk:-?}'): the results belong to another kernel. Rebuild the image and run 'make smoke KERNEL=$k'."
		fi
	else
		add_test kernel-release false "$k: $(rel "$pkgdir")/KREL is missing: cannot tell which kernel was packaged. Run 'make deb rpm KERNEL=$k'."
	fi

	# freshness: what was tested is what is there now, and nothing else.
	local tp="$res/tested-packages.json" problems=() name file cur want
	if json_ok "$tp" && jq -e 'type == "array" and length > 0 and all(.[]; (.file | type) == "string" and (.sha256 | type) == "string")' "$tp" >/dev/null; then
		local -A listed=()
		while IFS=$'\t' read -r name want; do
			file=$(resolve "$name")
			name=$(rel "$file")
			listed[$name]=1
			if [ ! -f "$file" ]; then
				cur=""
				problems+=("$name was tested but no longer exists")
			else
				cur=$(sha256_of "$file")
				[ "$cur" = "$want" ] || problems+=("$name changed after the smoke test (tested sha256 $want, now $cur)")
			fi
			jq -c --arg f "$name" --arg w "$want" --arg c "$cur" \
				'. + [{file: $f, sha256: $w, current_sha256: (if $c == "" then null else $c end), fresh: ($w == $c)}]' \
				"$work/$k.packages.json" >"$work/$k.p" && mv "$work/$k.p" "$work/$k.packages.json"
		done < <(jq -r '.[] | [.file, .sha256] | @tsv' "$tp")
		while IFS= read -r -d '' file; do
			name=$(rel "$file")
			[ -n "${listed[$name]:-}" ] || problems+=("$name was built but not tested")
		done < <(find "$pkgdir" -type f \( -name '*.deb' -o -name '*.rpm' \) -print0 2>/dev/null | sort -z)
		if [ "${#problems[@]}" -eq 0 ]; then
			add_test freshness true "the ${#listed[@]} tested packages are the ones in $(rel "$pkgdir")"
		else
			m=$(printf '; %s' "${problems[@]}")
			add_test freshness false "$k: stale results: ${m#; }. The packages were rebuilt after the smoke ran: run 'make image smoke KERNEL=$k' again."
		fi
	else
		add_test freshness false "$k: $(rel "$tp") is missing, invalid or empty: nothing says which packages were tested. Run 'make image smoke KERNEL=$k'."
	fi

	jq -n --arg name "$k" --arg krel "$krel" --arg res "$(rel "$res")" \
		--slurpfile tests "$tests" --slurpfile pk "$work/$k.packages.json" \
		--argjson boot "$(jq -c '{verdict, reason, exit_code, seconds}' "$res/verdict.json" 2>/dev/null || echo null)" \
		--argjson smoke "$(jq -c '{kernel, summary, checks: [.checks[]? | {name, verdict}]}' "$res/smoke.json" 2>/dev/null || echo null)" \
		--argjson bench "$(jq -c '{kernel, modes: [.modes[]? | {mode, syscalls_per_rpc, syscalls_per_rpc_excl_wait, qps, qps_per_cpu_second}]}' "$res/bench.json" 2>/dev/null || echo null)" \
		'{name: $name,
		  verdict: (if ($tests | all(.pass)) then "pass" else "fail" end),
		  problems: [$tests[] | select(.pass | not) | .message],
		  krel: (if $krel == "" then null else $krel end),
		  results: $res, boot: $boot, smoke: $smoke, bench: $bench,
		  packages: $pk[0], tests: $tests}' >"$work/$k.json"
}

for k in "$@"; do
	gate_kernel "$k"
	v=$(jq -r .verdict "$work/$k.json")
	if [ "$v" = pass ]; then
		log gate "$k" "pass ($(jq '.tests | length' "$work/$k.json") tests)"
	else
		log gate "$k" "FAIL: $(jq -r '.problems | length' "$work/$k.json") problem(s)"
		# The kernel-wide problems first, then the failing checks; at most 8 lines.
		jq -r '[.tests[] | select(.pass | not)] | (map(select(.name | startswith("check:") | not)) +
			map(select(.name | startswith("check:")))) as $p
			| ($p[:8][] | .message), ($p | length - 8 | select(. > 0) | "... and \(.) more (see gate.json)")' \
			"$work/$k.json" | sed 's/^/    /' | cut -c1-400 >&2
	fi
done

kfiles=()
for k in "$@"; do kfiles+=("$work/$k.json"); done
commit=$(git -C "$TOP" rev-parse HEAD 2>/dev/null || true)
jq -s --arg time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" '
	{tool: "zc-kernel-gate", format: 1, time: $time,
	 commit: (if $commit == "" then null else $commit end),
	 verdict: (if length > 0 and all(.verdict == "pass") then "pass" else "fail" end),
	 kernels_requested: [.[].name],
	 failed_kernels: [.[] | select(.verdict != "pass") | .name],
	 packages: ([.[] as $k | $k.packages[] | {file, sha256, kernel: $k.name}]
		| group_by(.file) | map({file: .[0].file, sha256: .[0].sha256,
			sha256_agree: (map(.sha256) | unique | length == 1),
			kernels: map(.kernel)})),
	 kernels: .}' "${kfiles[@]}" >"$work/gate.json"

# JUnit: one <testsuite> per kernel, one <testcase> per test.
jq -r '
	def x: tostring | @html;
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
	"<testsuites name=\"zc-kernel gate\" tests=\"\([.kernels[].tests[]] | length)\" failures=\"\([.kernels[].tests[] | select(.pass | not)] | length)\">",
	(.kernels[] |
		"  <testsuite name=\"gate.\(.name | x)\" tests=\"\(.tests | length)\" failures=\"\([.tests[] | select(.pass | not)] | length)\" timestamp=\"\($time)\">",
		(.name as $k | .tests[] |
			if .pass then "    <testcase classname=\"gate.\($k | x)\" name=\"\(.name | x)\"/>"
			else "    <testcase classname=\"gate.\($k | x)\" name=\"\(.name | x)\"><failure message=\"\(.message | x)\">\(.message | x)</failure></testcase>"
			end),
		"  </testsuite>"),
	"</testsuites>"' --arg time "$(jq -r .time "$work/gate.json" | sed 's/Z$//')" "$work/gate.json" >"$work/gate-junit.xml"

if command -v xmllint >/dev/null; then
	xmllint --noout "$work/gate-junit.xml" || die "internal error: the gate wrote invalid JUnit XML ($work/gate-junit.xml)"
fi
mv "$work/gate-junit.xml" "$gate_xml"
mv "$work/gate.json" "$gate_json"

verdict=$(jq -r .verdict "$gate_json")
if [ "$verdict" = pass ]; then
	log gate all "PASS: every kernel ($*) passed every check; $(jq '.packages | length' "$gate_json") packages recorded in $gate_json"
	exit 0
fi
log gate all "FAIL: $(jq -r '.failed_kernels | join(" ")' "$gate_json") did not pass; nothing may be promoted. Details: $gate_json, $gate_xml"
exit 1
