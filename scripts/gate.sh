#!/usr/bin/env bash
# gate.sh KERNEL...: the promotion gate. Reads $OUT/results/<k>/ and
# $OUT/pkg/<k>/ for every kernel given and writes
#   $OUT/gate.json        one verdict per kernel and one overall, with the
#                         sha256 of every package that was tested;
#   $OUT/gate-junit.xml   one testcase per kernel and check, for CI dashboards.
# Exit 0 when every kernel passed every check, 1 otherwise (both files are
# written either way; a failing gate says why, per kernel).
#
# Kernels are lines (5.10, control); with PROFILE=<p> their results and
# packages are out/results/<kid>/ and out/pkg/<kid>/ (lib.sh kid: 5.10 for
# smoke, 5.10-cloud for cloud). Per kernel, the tests are:
#   results         verdict.json, tested-packages.json and every result file
#                   of the manifest (smoke.json, bench.json) present, valid
#                   JSON and of the right shape
#   required:<kind> every name the manifest tests/smoke/required-checks.txt
#                   requires for the tool version that wrote the file is in it
#                   (a bad --only, a cut run or an older tool fails, naming
#                   each missing check)
#   boot            verdict.json says pass
#   check:<name>    one per zc-smoke check: pass (a skip is not a pass)
#   bench           zc-rpc-bench's ab suite: a request in two skbs is copied
#                   (0 copy failures, 2 syscalls per RPC) and a foreign address
#                   gives no EINVAL (medians of the runs, scripts/stats.py)
#   kernel-release  smoke.json and bench.json ran on the kernel that was packaged
#                   ($OUT/pkg/<k>/KREL)
#   freshness       every package in tested-packages.json still exists with the
#                   same sha256, and every package under $OUT/pkg/<k>/ was tested
#   profile         the packaged kernel release ends with -<PROFILE>
#   stress          zc-stress ran in the image and found no integrity error
#   selftests       the line's own selftests (zc-selftests-<lts>) ran and passed
#   lockcount       (profiles with LOCKCOUNT=required: debug) zc-lockcount
#                   counted 0 VMA lookups and 0 mmap_lock read locks in each
#                   fast path
#   abi             (fleet profiles) Debian's exported symbols are all kept
# Not a test, recorded per kernel: the profile and the channels it may go to
# (CHANNELS= of packaging/configs/<profile>.profile: lab or fleet), and the
# line's pinned version, the newest one its suites serve and behind_by, from
# $OUT/outdated.json (scripts/outdated.sh is run first when that file is
# missing or older than GATE_OUTDATED_MAX_AGE seconds, default 21600); status
# "unknown" when nothing says (never "current"). promote.sh acts on these.
# Whatever a result file holds, both files are written: a result the gate
# cannot read fails its kernel with the reason (test "gate-error").
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
need_tools gate jq sha256sum flock find
gate_t0=$SECONDS

# rel PATH: "out/..." for a path under $OUT (how the records name files).
rel() {
	local p=$1
	case "$p" in
	"$OUT"/*) echo "out/${p#"$OUT"/}" ;;
	"$TOP"/*) echo "${p#"$TOP"/}" ;;
	*) echo "$p" ;;
	esac
}

profile=${PROFILE:-smoke}
[[ $profile =~ ^[a-z0-9]+$ ]] || die "bad profile name '$profile' (lower-case letters and digits only)"
prof_file=$TOP/packaging/configs/$profile.profile
[ -f "$prof_file" ] || die "unknown profile '$profile': no $prof_file (known: $(cd "$TOP/packaging/configs" && ls -- *.profile | sed 's/\.profile$//' | tr '\n' ' '))"
PROF_CHANNELS="" PROF_ABI_FLAVOUR="" PROF_LOCKCOUNT=""
parse_kv "$prof_file" PROF_
case "$PROF_CHANNELS" in lab | fleet) ;; *) die "$prof_file: CHANNELS must be lab or fleet, not '$PROF_CHANNELS'" ;; esac

manifest=${ZC_REQUIRED_CHECKS:-$TOP/tests/smoke/required-checks.txt}
[ -f "$manifest" ] || die "the required-checks manifest $manifest is missing"

gate_json=$OUT/gate.json
gate_xml=$OUT/gate-junit.xml
mkdir -p "$OUT"
# One gate at a time per OUT; under the lock, a .gate.* left is a killed gate's.
stage_lock "$OUT/.locks/gate.lock" "'make gate'"
clean_stale "$OUT" ".gate.*" "'make gate'"
# A gate that crashes must not leave an older passing verdict behind.
rm -f "$gate_json" "$gate_xml"
work=$(mktemp -d "$OUT/.gate.XXXXXX")
cleanup_on_exit "$work"

# --- the manifest of required results ----------------------------------------
declare -A R_FILE=() R_TOOL=() R_NAMES=() R_MIN=()
kinds=()
req=() # "kind since name"
ln=0
while read -r a b c d e extra; do
	ln=$((ln + 1))
	case "$a" in "" | "#"*) continue ;; esac
	[ -z "${extra:-}" ] || die "$manifest:$ln: too many fields"
	case "$a" in
	result)
		[ -n "${e:-}" ] && [[ $c =~ ^[a-z0-9_-]+\.json$ ]] || die "$manifest:$ln: expected 'result KIND FILE TOOL NAMES'"
		R_FILE[$b]=$c R_TOOL[$b]=$d R_NAMES[$b]=$e
		kinds+=("$b") ;;
	minimum)
		[ -n "${R_FILE[$b]:-}" ] && [ -n "${c:-}" ] || die "$manifest:$ln: 'minimum $b' before 'result $b', or no version"
		R_MIN[$b]=$c ;;
	*)
		[ -n "${R_FILE[$a]:-}" ] || die "$manifest:$ln: unknown result kind '$a' (declare it with a 'result' line first)"
		[[ ${c:-} =~ ^[A-Za-z0-9_.:-]+$ ]] && [ -z "${d:-}" ] || die "$manifest:$ln: expected 'KIND SINCE NAME'"
		req+=("$a $b $c") ;;
	esac
done <"$manifest"
[ "${#kinds[@]}" -gt 0 ] || die "$manifest declares no result"

# required_names KIND VERSION: the names the manifest requires of KIND's
# results written by version VERSION of its tool.
declare -A _since_le=()
required_names() {
	local kind=$1 ver=$2 l k s n
	for l in "${req[@]}"; do
		read -r k s n <<<"$l"
		[ "$k" = "$kind" ] || continue
		if [ -z "${_since_le[$s/$ver]:-}" ]; then
			# SINCE or SINCE..UNTIL (both included)
			if dpkg --compare-versions "${s%%..*}" le "$ver" 2>/dev/null &&
				{ [[ $s != *..* ]] || dpkg --compare-versions "$ver" le "${s##*..}" 2>/dev/null; }; then
				_since_le[$s/$ver]=1
			else _since_le[$s/$ver]=0; fi
		fi
		[ "${_since_le[$s/$ver]}" = 0 ] || echo "$n"
	done
}

# --- how far behind each line is: out/outdated.json ----------------------------
od=$OUT/outdated.json
od_max=${GATE_OUTDATED_MAX_AGE:-21600}
od_fresh() {
	local t
	[ -f "$od" ] && jq -e 'type == "object" and (.lines | type) == "array" and (.checked_at | type) == "string"' "$od" >/dev/null 2>&1 || return 1
	t=$(date -d "$(jq -r .checked_at "$od")" +%s 2>/dev/null) || return 1
	[ $(($(date +%s) - t)) -le "$od_max" ]
}
lines=()
for k in "$@"; do
	l=$( (load_conf "$k" && echo "$SRC_LINE") 2>/dev/null) || continue
	[[ " ${lines[*]} " == *" $l "* ]] || lines+=("$l")
done
od_source=existing
if ! od_fresh; then
	od_script=${GATE_OUTDATED_SCRIPT:-$TOP/scripts/outdated.sh}
	if [ -x "$od_script" ] && [ "${GATE_RUN_OUTDATED:-1}" = 1 ] && [ "${#lines[@]}" -gt 0 ]; then
		log gate all "$(rel "$od") is missing or older than ${od_max}s: running scripts/outdated.sh ${lines[*]}"
		orc=0
		"$od_script" "${lines[@]}" >"$work/outdated.log" 2>&1 || orc=$?
		od_source="ran scripts/outdated.sh (exit $orc)"
		od_fresh || log gate all "scripts/outdated.sh gave no fresh $(rel "$od") (exit $orc): every line is 'unknown'"
	else
		od_source=missing
	fi
fi
od_ok=0
if od_fresh; then od_ok=1; fi

# outdated_json KERNEL: {line, pinned, newest, behind_by, newer, status, checked_at, reason}
outdated_json() {
	local k=$1 line pinned e st newest newer=() v reason=""
	if ! read -r line pinned < <( (load_conf "$k" && echo "$SRC_LINE $CONF_VERSION") 2>/dev/null); then
		jq -cn --arg k "$k" '{line: null, pinned: null, newest: null, behind_by: null, newer: [], status: "unknown",
			checked_at: null, reason: "no patches/\($k)/source.conf: the pin is not known"}'
		return
	fi
	if [ "$od_ok" != 1 ]; then
		reason="$(rel "$od") is missing or older than ${od_max}s and could not be made ($od_source): run 'make outdated'"
	else
		e=$(jq -c --arg l "$line" '[.lines[]? | select(.lts == $l)][0] // empty' "$od")
		if [ -z "$e" ]; then
			reason="$(rel "$od") has no entry for line $line: run 'make outdated'"
		elif [ "$(jq -r '.status' <<<"$e")" = error ] || [ "$(jq -r '.newest | type' <<<"$e")" != string ]; then
			reason="the archive could not be asked for $line: $(jq -r '.error // "no newest version"' <<<"$e")"
		fi
	fi
	if [ -n "$reason" ]; then
		jq -cn --arg l "$line" --arg p "$pinned" --arg r "$reason" --arg t "$( [ "$od_ok" = 1 ] && jq -r .checked_at "$od")" \
			'{line: $l, pinned: $p, newest: null, behind_by: null, newer: [], status: "unknown",
			  checked_at: (if $t == "" then null else $t end), reason: $r}'
		return
	fi
	newest=$(jq -r .newest <<<"$e")
	# The pin may have moved since the check: count what is newer than it now.
	while IFS= read -r v; do
		[ -n "$v" ] || continue
		if dpkg --compare-versions "$v" gt "$pinned"; then newer+=("$v"); fi
	done < <(jq -r '((.newer // []) + [.newest]) | unique | .[]' <<<"$e")
	if [ "${#newer[@]}" -gt 0 ]; then st=behind; else st=current; fi
	jq -cn --arg l "$line" --arg p "$pinned" --arg n "$newest" --arg st "$st" --arg t "$(jq -r .checked_at "$od")" \
		--args '{line: $l, pinned: $p, newest: $n, behind_by: ($ARGS.positional | length), newer: $ARGS.positional,
		status: $st, checked_at: $t, reason: (if $st == "behind" then "\($l) is pinned to \($p), its suites serve \($n): run make refresh KERNEL=\($l)" else null end)}' \
		"${newer[@]}"
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
# shape FILE: the jq test a result file of that name must pass.
shape() {
	case "${1##*/}" in
	verdict.json) echo 'type == "object" and (.verdict | type) == "string"' ;;
	smoke.json) echo 'type == "object" and (.checks | type) == "array" and all(.checks[]; type == "object" and (.name | type) == "string" and (.verdict | type) == "string")' ;;
	bench.json) echo 'type == "object" and (.modes | type) == "array" and all(.modes[]; type == "object")' ;;
	tested-packages.json) echo 'type == "array"' ;;
	*) echo 'type == "object"' ;;
	esac
}
# valid FILE: present, JSON, and of its shape.
declare -A _valid=()
valid() {
	if [ -z "${_valid[$1]:-}" ]; then
		if [ -f "$1" ] && jq -e "$(shape "$1")" "$1" >/dev/null 2>&1; then _valid[$1]=1; else _valid[$1]=0; fi
	fi
	[ "${_valid[$1]}" = 1 ]
}

gate_kernel() {
	local k=$1 kid res pkgdir
	kid=$(kid "$k" "$profile")
	res="$OUT/results/$kid" pkgdir="$OUT/pkg/$kid"
	local f missing=() bad=() shapeless=() krel="" m kind
	tests="$work/$k.tests.jsonl"
	: >"$tests"
	echo '[]' >"$work/$k.packages.json"
	echo '{}' >"$work/$k.required.json"

	# results: which files are there, and are they JSON.
	if [ ! -d "$res" ]; then
		add_test results false "no results for $k: $(rel "$res") does not exist. Run 'make smoke KERNEL=$k' (after building its packages and image)."
	else
		local files=(verdict.json tested-packages.json)
		for kind in "${kinds[@]}"; do files+=("${R_FILE[$kind]}"); done
		for f in "${files[@]}"; do
			if [ ! -f "$res/$f" ]; then
				missing+=("$f")
			elif ! json_ok "$res/$f"; then
				bad+=("$f")
			elif ! valid "$res/$f"; then
				shapeless+=("$f ($(jq -r 'type' "$res/$f"))")
			fi
		done
		if [ "${#missing[@]}" -eq 0 ] && [ "${#bad[@]}" -eq 0 ] && [ "${#shapeless[@]}" -eq 0 ]; then
			add_test results true "all result files present in $(rel "$res")"
		else
			m="incomplete results for $k in $(rel "$res"):"
			[ "${#missing[@]}" -eq 0 ] || m+=" missing ${missing[*]};"
			[ "${#bad[@]}" -eq 0 ] || m+=" not valid JSON: ${bad[*]};"
			[ "${#shapeless[@]}" -eq 0 ] || m+=" valid JSON of the wrong shape: ${shapeless[*]};"
			add_test results false "$m the boot did not finish or the results were cut. Run 'make smoke KERNEL=$k' again."
		fi
	fi

	# required:<kind>: every name the manifest requires of the tool version
	# that wrote the file is in it.
	for kind in "${kinds[@]}"; do
		f="$res/${R_FILE[$kind]}"
		if ! valid "$f"; then
			add_test "required:$kind" false "$k: no readable ${R_FILE[$kind]}: the required $kind results cannot be checked"
			continue
		fi
		local tool ver have=() need=() miss=() n
		tool=$(jq -r '.tool // "" | tostring' "$f")
		ver=$(jq -r '.version // "" | tostring' "$f")
		if [ "$tool" != "${R_TOOL[$kind]}" ] || [ -z "$ver" ]; then
			add_test "required:$kind" false "$k: $(rel "$f") was not written by ${R_TOOL[$kind]} (tool '$tool', version '$ver'): the results are not what the smoke stage makes. Run 'make smoke KERNEL=$k' again."
			continue
		fi
		if [ -n "${R_MIN[$kind]:-}" ] && ! dpkg --compare-versions "$ver" ge "${R_MIN[$kind]}" 2>/dev/null; then
			add_test "required:$kind" false "$k: $(rel "$f") comes from $tool $ver, older than the minimum ${R_MIN[$kind]} of $(rel "$manifest"): rebuild the image with the current $tool and run 'make smoke KERNEL=$k'."
			continue
		fi
		mapfile -t have < <(jq -r "[${R_NAMES[$kind]}] | .[] | strings" "$f" 2>/dev/null)
		mapfile -t need < <(required_names "$kind" "$ver")
		for n in "${need[@]}"; do
			[[ $'\n'"$(printf '%s\n' "${have[@]}")"$'\n' == *$'\n'"$n"$'\n'* ]] || miss+=("$n")
		done
		jq -c --arg kind "$kind" --arg tool "$tool" --arg ver "$ver" --arg man "$(rel "$manifest")" --argjson nreq "${#need[@]}" \
			'.[$kind] = {tool: $tool, version: $ver, manifest: $man, required: $nreq, missing: $ARGS.positional}' \
			"$work/$k.required.json" --args "${miss[@]}" >"$work/$k.r" && mv "$work/$k.r" "$work/$k.required.json"
		if [ "${#need[@]}" -eq 0 ]; then
			add_test "required:$kind" false "$k: $(rel "$manifest") requires nothing of $tool $ver: no required $kind check can be proven"
		elif [ "${#miss[@]}" -eq 0 ]; then
			add_test "required:$kind" true "all ${#need[@]} $kind checks required of $tool $ver are in $(rel "$f")"
		else
			add_test "required:$kind" false "$k: $tool $ver did not report ${#miss[@]} of the ${#need[@]} required $kind checks: $(printf '%s ' "${miss[@]}")(required by $(rel "$manifest")). A bad --only, a cut run or an older tool: run 'make smoke KERNEL=$k' again."
		fi
	done

	# boot: the verdict of the boot stage.
	if valid "$res/verdict.json"; then
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
	if valid "$res/smoke.json"; then
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

	# bench: the deterministic counts that tell the fix apart (scripts/stats.py
	# over the raw runs of zc-rpc-bench's ab suite): with the short-circuit, a
	# request spread over two skbs is copied into the buffer (no copy failure,
	# 2 syscalls per RPC), and an address that is not the socket's mapping
	# gives no EINVAL. Debian's 5.10 without the fix fails both: it copies only
	# a single-skb request, and only at the socket's mapping. ("hybrid below
	# zc" is no criterion: the control meets it too.)
	if valid "$res/bench.json"; then
		local bs="$work/$k.bench-stats.json" c2 cf sc
		if ! "$TOP/scripts/stats.py" summarize "$res/bench.json" -o "$bs" >/dev/null 2>"$work/$k.stats.err" ||
			! jq -e '.configs["hybrid-2skb"].metrics and .configs["hybrid-foreign"].metrics' "$bs" >/dev/null 2>&1; then
			add_test bench false "$k: $(rel "$res")/bench.json has no hybrid-2skb and hybrid-foreign runs (zc-rpc-bench --suite ab): $(head -c 200 "$work/$k.stats.err" 2>/dev/null)rebuild the image with the current zc-rpc-bench and run 'make smoke KERNEL=$k'"
		else
			c2=$(jq -r '.configs["hybrid-2skb"].metrics.copy_failures_per_rpc.median' "$bs")
			sc=$(jq -r '.configs["hybrid-2skb"].metrics.syscalls_per_rpc_excl_wait.median' "$bs")
			cf=$(jq -r '.configs["hybrid-foreign"].metrics.getsockopt_errors_per_rpc.median' "$bs")
			if jq -en --argjson a "$c2" --argjson s "$sc" --argjson b "$cf" '$a == 0 and $s <= 2 and $b == 0' >/dev/null 2>&1; then
				add_test bench true "two-skb requests copied ($sc syscalls per RPC, $c2 copy failures), foreign address answered ($cf getsockopt errors per RPC): medians of $(jq -r '.configs["hybrid-2skb"].metrics.copy_failures_per_rpc.n' "$bs") runs"
			else
				add_test bench false "$k: the fast paths are not taken by the benchmark: two-skb requests $c2 copy failures and $sc syscalls per RPC (want 0 and 2), foreign address $cf getsockopt errors per RPC (want 0); medians in $(rel "$res")/bench.json"
			fi
		fi
	else
		add_test bench false "$k: no benchmark ($(rel "$res")/bench.json missing or invalid)"
	fi

	# kernel-release: the results come from the kernel that was packaged.
	if [ -f "$pkgdir/KREL" ]; then
		krel=$(tr -d '[:space:]' <"$pkgdir/KREL")
		local sk bk
		sk="" bk=""
		if valid "$res/smoke.json"; then sk=$(jq -r '.kernel // empty | tostring' "$res/smoke.json"); fi
		if valid "$res/bench.json"; then bk=$(jq -r '.kernel // empty | tostring' "$res/bench.json"); fi
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
	if valid "$tp" && jq -e 'type == "array" and length > 0 and all(.[]; (.file | type) == "string" and (.sha256 | type) == "string")' "$tp" >/dev/null; then
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

	# profile: the packages are a build of this profile.
	if [ -n "$krel" ]; then
		if [[ $krel == *"-$profile" ]]; then
			add_test profile true "$krel is a $profile build (channels: $PROF_CHANNELS)"
		else
			add_test profile false "$k: the packages are $krel, not a build of profile $profile (its release would end with -$profile): gate with the profile they were built with, or run 'make deb rpm KERNEL=$k PROFILE=$profile'"
		fi
	fi

	# stress, selftests: zc-stress and the line's own selftests ran in the image
	# and passed (verdict.json's stress_exit, selftests_exit; 4 is a skip, and
	# a skip is not a pass).
	# lockcount (a profile with LOCKCOUNT=required, i.e. debug): zc-lockcount
	# counted 0 VMA lookups and 0 mmap_lock read acquisitions in each fast
	# path; a kernel without the fix counts one of each per call.
	local lockcount=null
	if valid "$res/verdict.json"; then
		local what ex tap
		for what in stress selftests; do
			ex=$(jq -r --arg w "$what" '.[$w + "_exit"] // "none" | tostring' "$res/verdict.json")
			tap="$res/$what.tap"
			case "$ex" in
			0) add_test "$what" true "$what passed in the image: $(grep -c '^ok ' "$tap" 2>/dev/null || echo 0) test points ok" ;;
			none) add_test "$what" false "$k: $what did not run in the image (verdict.json has no ${what}_exit): rebuild the image with zc-smoke and zc-selftests-$k ('make image KERNEL=$k') and run 'make smoke KERNEL=$k'" ;;
			4) add_test "$what" false "$k: $what skipped everything in the image (exit 4): $(grep -m1 -o 'SKIP.*' "$tap" 2>/dev/null || echo 'no reason given')" ;;
			*) add_test "$what" false "$k: $what failed in the image (exit $ex): $(grep -m3 '^not ok ' "$tap" 2>/dev/null | tr '\n' ' ')(all in $(rel "$tap"))" ;;
			esac
		done
	fi
	if [ "${PROF_LOCKCOUNT:-}" = required ]; then
		if valid "$res/lockcount.json" && jq -e '(.cases | type) == "object" and (.cases | length) >= 3' "$res/lockcount.json" >/dev/null 2>&1; then
			lockcount=$(jq -c '{calls_per_case, exit, cases: (.cases | map_values({calls, vma_lookups, mmap_lock_read, error}))}' "$res/lockcount.json")
			if jq -e '.exit == 0 and all(.cases[]; .vma_lookups == 0 and .mmap_lock_read == 0 and .error == null)' "$res/lockcount.json" >/dev/null; then
				add_test lockcount true "$(jq -r '"no VMA lookup and no mmap_lock read lock in \(.calls_per_case) calls of each fast path: " + ([.cases | keys[]] | join(", "))' "$res/lockcount.json")"
			else
				add_test lockcount false "$k: the fast paths take mmap_lock or look the VMA up: $(jq -r '[.cases | to_entries[] | "\(.key) \(.value.vma_lookups) VMA lookups, \(.value.mmap_lock_read) read locks in \(.value.calls) calls\(if .value.error then " (\(.value.error))" else "" end)"] | join("; ")' "$res/lockcount.json") ($(rel "$res/lockcount.json"))"
			fi
		else
			add_test lockcount false "$k: the $profile profile requires zc-lockcount's counts, and $(rel "$res/lockcount.json") is missing or has no cases: the kernel has no function tracer, or zc-lockcount skipped ($(jq -r '.lockcount_exit // "not run" | tostring' "$res/verdict.json" 2>/dev/null))"
		fi
	fi

	# abi: a fleet profile (ABI_FLAVOUR= in its profile) keeps every exported
	# symbol of Debian's build of the same release (scripts/abi-check.sh).
	local abi=null
	if [ -n "${PROF_ABI_FLAVOUR:-}" ]; then
		if valid "$res/abi.json" && jq -e '.counts | (.removed | type) == "number" and (.changed | type) == "number"' "$res/abi.json" >/dev/null 2>&1; then
			abi=$(jq -c '{reference_package, reference_version, counts, verdict,
				removed: [.removed[].symbol], changed: [.changed[] | "\(.symbol) \(.field) \(.reference) -> \(.ours)"]}' "$res/abi.json")
			if [ -n "$krel" ] && ! jq -e --arg k "$krel" '.krel == $k' "$res/abi.json" >/dev/null; then
				add_test abi false "$k: the ABI report $(rel "$res/abi.json") is of $(jq -r '.krel // "an unnamed build"' "$res/abi.json"), not of the packaged $krel: run 'make abi KERNEL=$k PROFILE=$profile'"
			elif jq -e '.counts.removed == 0 and .counts.changed == 0' "$res/abi.json" >/dev/null; then
				add_test abi true "$(jq -r '"ABI kept against \(.reference_package) \(.reference_version): \(.counts.ours) symbols, 0 removed, 0 changed, \(.counts.added) added"' "$res/abi.json")"
			else
				add_test abi false "$k: the build changes Debian's ABI ($(jq -r '"\(.counts.removed) removed, \(.counts.changed) changed"' "$res/abi.json")): $(jq -r '[(.removed[].symbol | "removed " + .), (.changed[] | "changed \(.symbol) (\(.field))")] | .[:10] | join(", ")' "$res/abi.json") (all in $(rel "$res/abi.txt"))"
			fi
		else
			add_test abi false "$k: no ABI report $(rel "$res/abi.json") for the fleet profile $profile: run 'make abi KERNEL=$k PROFILE=$profile'"
		fi
	fi

	local boot=null smoke=null bench=null
	if valid "$res/verdict.json"; then boot=$(jq -c '{verdict, reason, exit_code, seconds}' "$res/verdict.json"); fi
	if valid "$res/smoke.json"; then smoke=$(jq -c '{tool, version, kernel, summary, checks: [.checks[] | {name, verdict}]}' "$res/smoke.json"); fi
	if valid "$res/bench.json"; then
		bench=$(jq -c '{tool, version, kernel, modes: [.modes[]? | {mode, syscalls_per_rpc, syscalls_per_rpc_excl_wait, qps, qps_per_cpu_second}]}' "$res/bench.json")
		if [ -s "$work/$k.bench-stats.json" ]; then
			bench=$(jq -c --slurpfile st "$work/$k.bench-stats.json" '. + {medians: ($st[0].configs | map_values({n,
				syscalls_per_rpc_excl_wait: .metrics.syscalls_per_rpc_excl_wait.median,
				copy_failures_per_rpc: .metrics.copy_failures_per_rpc.median,
				getsockopt_errors_per_rpc: .metrics.getsockopt_errors_per_rpc.median}))}' <<<"$bench")
		fi
	fi
	jq -n --arg name "$kid" --arg line "$k" --arg profile "$profile" --arg ch "$PROF_CHANNELS" --arg krel "$krel" --arg res "$(rel "$res")" \
		--slurpfile tests "$tests" --slurpfile pk "$work/$k.packages.json" --slurpfile req "$work/$k.required.json" \
		--argjson outdated "$(outdated_json "$k")" \
		--argjson boot "$boot" --argjson smoke "$smoke" --argjson bench "$bench" --argjson abi "$abi" --argjson lockcount "$lockcount" \
		'{name: $name, line: $line, profile: $profile, channels: $ch, abi: $abi, lockcount: $lockcount,
		  verdict: (if ($tests | all(.pass)) then "pass" else "fail" end),
		  problems: [$tests[] | select(.pass | not) | .message],
		  krel: (if $krel == "" then null else $krel end),
		  outdated: $outdated,
		  results: $res, required: $req[0], boot: $boot, smoke: $smoke, bench: $bench,
		  packages: $pk[0], tests: $tests}' >"$work/$k.json"
}

for k in "$@"; do
	# In a child of its own (not in an `if`: set -e must hold inside), so a
	# result that breaks a jq program fails this kernel, with the reason,
	# instead of the whole gate.
	rc=0
	(gate_kernel "$k") 2>"$work/$k.err" &
	wait $! || rc=$?
	if [ "$rc" != 0 ] || ! jq -e 'type == "object" and (.tests | type) == "array"' "$work/$k.json" >/dev/null 2>&1; then
		m="$k: the gate could not read the results in $(rel "$OUT/results/$(kid "$k" "$profile")") (exit $rc): $(grep -v '^\[' "$work/$k.err" | tail -n 3 | tr '\n' ' ')- fix or remove the broken file and run 'make smoke KERNEL=$k' again"
		jq -n --arg name "$(kid "$k" "$profile")" --arg line "$k" --arg profile "$profile" --arg ch "$PROF_CHANNELS" --arg m "$m" \
			--arg res "$(rel "$OUT/results/$(kid "$k" "$profile")")" \
			'{name: $name, line: $line, profile: $profile, channels: $ch, verdict: "fail", problems: [$m], krel: null,
			  outdated: null, results: $res, required: {}, boot: null, smoke: null, bench: null, packages: [],
			  tests: [{name: "gate-error", pass: false, message: $m}]}' >"$work/$k.json"
	fi
	v=$(jq -r .verdict "$work/$k.json")
	od_line=$(jq -r '.outdated | if . == null then "" else " [\(.pinned // "?") \(.status)\(if .status == "behind" then ": newest \(.newest), \(.behind_by) behind" else "" end)]" end' "$work/$k.json")
	# the gate's column of the summary table (scripts/summary.sh)
	gkid=$(kid "$k" "$profile")
	if [ "$v" = pass ]; then
		what="$(jq '.tests | length' "$work/$k.json") tests"
		log gate "$k" "pass ($what, profile $profile)$od_line"
		status_set "$gkid" gate ok $((SECONDS - gate_t0)) "pass, $what" || true
	else
		what="$(jq -r '.problems | length' "$work/$k.json") problem(s)"
		log gate "$k" "FAIL: $what (profile $profile)$od_line"
		status_set "$gkid" gate FAIL $((SECONDS - gate_t0)) "$what: $(jq -r '[.tests[] | select(.pass | not) | .name] | .[:4] | join(" ")' "$work/$k.json")" || true
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
jq -s --arg time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" \
	--arg profile "$profile" --arg ch "$PROF_CHANNELS" --arg man "$(rel "$manifest")" --arg man_sha "$(sha256_of "$manifest")" \
	--arg od "$(rel "$od")" --arg ods "$od_source" --argjson odok "$od_ok" --arg stale "${ALLOW_STALE:-0}" '
	{tool: "zc-kernel-gate", format: 2, time: $time,
	 commit: (if $commit == "" then null else $commit end),
	 profile: $profile, channels: $ch,
	 required_checks: {manifest: $man, sha256: $man_sha},
	 outdated: {file: $od, fresh: ($odok == 1), source: $ods},
	 allow_stale: ($stale == "1"),
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
	xmllint --noout "$work/gate-junit.xml" || die "internal error: the gate wrote invalid JUnit XML (kept as $(keep_log "$work/gate-junit.xml" gate-junit.invalid.xml))"
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
