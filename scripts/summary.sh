#!/usr/bin/env bash
# summary.sh LTS...: the table printed at the end of `make`, one row per kernel
# and profile (each LTS is shown as its kid, lib.sh: 5.10, 5.10-cloud),
# one column per stage, from what the stages recorded in $OUT/status/, then
# the per-stage totals and the results page (scripts/report.sh).
#
# A stage that ran twice in one job (the pipeline's second pass finds the
# kernel, packages and image up to date) records the no-op last. The table
# reports the work instead, from what the work itself left: build.json
# (kernel: seconds, objects compiled), the packages' .work.json (deb, rpm:
# seconds, packages) and image.json (image: seconds); a cell
# then reads "476s (built 20:41)". Stages without such a record show what
# the status says. A stage that waited for the machine-wide build lock shows
# the work and the wait apart ("170s (+2659s waiting)"). Also written as $OUT/summary.json:
#   {tool, time, stages: [<stage>...], kernels: [{name, stages: {<stage>:
#    {result, seconds, detail, work_seconds, noop, at}}}],
#    stage_totals: {<stage>: seconds of work}}
# Exit 1 when any recorded stage failed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

kids=()
for a in "$@"; do
	if [[ $a == *-"${PROFILE:-smoke}" ]]; then kids+=("$a"); else kids+=("$(kid "$a")"); fi
done
set -- "${kids[@]}"

stages=(source patch kernel deb rpm abi image smoke gate)
present=()
for s in "${stages[@]}"; do
	if compgen -G "$OUT/status/*/$s" >/dev/null; then present+=("$s"); fi
done
[ "${#present[@]}" -gt 0 ] || { echo "summary: no stage has run yet (out/status is empty)"; exit 0; }

# work_record KID STAGE: "seconds epoch what" of the last real work of a
# stage that the status shows as a no-op, from the stage's own record.
work_record() {
	local kid=$1 stage=$2 lts=${1%%-*} profile=smoke f
	[ "$kid" = "$lts" ] || profile=${kid#*-}
	case "$stage" in
	kernel)
		f="$OUT/build/$profile/$lts/build.json"
		[ -f "$f" ] && jq -r --arg t "$(stat -c %Y "$f")" \
			'"\(.build_seconds) \($t) \(.objects_compiled // 0) objects"' "$f" 2>/dev/null
		;;
	deb | rpm)
		f="$OUT/pkg/$kid/$stage/.work.json"
		[ -f "$f" ] && jq -r --arg t "$(stat -c %Y "$f")" '"\(.build_seconds) \($t) \(.packages) packages"' "$f" 2>/dev/null
		;;
	image)
		f="$OUT/images/$kid/image.json"
		[ -f "$f" ] && jq -r --arg t "$(stat -c %Y "$f")" '"\(.build_seconds) \($t) \(.incremental_cache // "") cache"' "$f" 2>/dev/null
		;;
	esac
	return 0
}

rc=0
rows=()
declare -A cells width total
for s in "${present[@]}"; do width[$s]=${#s}; total[$s]=0; done
for kid in "$@"; do
	row=$(jq -nc --arg k "$kid" '{name: $k, stages: {}}')
	for s in "${present[@]}"; do
		# source and patch do not depend on the profile; the later stages do
		case "$s" in source | patch) f="$OUT/status/${kid%%-*}/$s" ;; *) f="$OUT/status/$kid/$s" ;; esac
		cell="-"
		if [ -f "$f" ]; then
			# A record that is empty or cut (a full disk, an older version)
			# is shown as unreadable, never a crash of the table.
			result="" secs="" detail=""
			IFS=$'\t' read -r result secs detail <"$f" || true
			if [ -z "$result" ] || ! [[ $secs =~ ^[0-9]+$ ]]; then
				result=unreadable secs=0 detail="empty or damaged record $f"
			fi
			noop=false work=$secs at=$(stat -c %Y "$f")
			[ "$result" = ok ] || rc=1
			cell="$result ${secs}s ${detail}"
			ws="" wt=""
			if [ "$result" = ok ] && ! [[ $detail =~ (cached|up\ to\ date) ]]; then
				# The stage's time includes waiting for the machine's build lock:
				# the work is what its own record says, when that record is this run's.
				read -r ws wt what <<<"$(work_record "$kid" "$s")" || true
				if [[ ${ws:-} =~ ^[0-9]+$ ]] && [ "$ws" -lt "$secs" ] && [ "$wt" -ge $((at - secs - 5)) ] && [ "$wt" -le $((at + 5)) ]; then
					work=$ws
					cell="ok ${ws}s (+$((secs - ws))s waiting) ${detail}"
				fi
			fi
			if [ "$result" = ok ] && [[ $detail =~ (cached|up\ to\ date) ]]; then
				noop=true
				read -r ws wt what <<<"$(work_record "$kid" "$s")" || true
				if [ -n "${ws:-}" ] && [[ $ws =~ ^[0-9]+$ ]]; then
					work=$ws at=$wt
					cell="ok ${ws}s (built $(date -d "@$wt" +%H:%M), $what; then up to date)"
				else
					work=0
					cell="ok ${secs}s ($detail)"
				fi
			fi
			total[$s]=$((total[$s] + work))
			row=$(jq -c --arg s "$s" --arg r "$result" --argjson t "$secs" --arg d "$detail" \
				--argjson w "$work" --argjson n "$noop" --arg at "$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)" \
				'.stages[$s] = {result: $r, seconds: $t, detail: $d, work_seconds: $w, noop: $n, at: $at}' <<<"$row")
		fi
		cell=${cell:0:60}
		cells[$kid/$s]=$cell
		if [ "${#cell}" -gt "${width[$s]}" ]; then width[$s]=${#cell}; fi
	done
	rows+=("$row")
done
kw=7
for kid in "$@"; do [ "${#kid}" -le "$kw" ] || kw=${#kid}; done
line=$(printf '%-*s' "$kw" kernel)
for s in "${present[@]}"; do line+=$(printf ' | %-*s' "${width[$s]}" "$s"); done
printf '\n%s\n%s\n' "$line" "$(printf '%*s' "${#line}" '' | tr ' ' -)"
for kid in "$@"; do
	printf '%-*s' "$kw" "$kid"
	for s in "${present[@]}"; do printf ' | %-*s' "${width[$s]}" "${cells[$kid/$s]}"; done
	printf '\n'
done
totals='{}'
line=$(printf '%-*s' "$kw" "work")
for s in "${present[@]}"; do
	line+=$(printf ' | %-*s' "${width[$s]}" "${total[$s]}s")
	totals=$(jq -c --arg s "$s" --argjson t "${total[$s]}" '.[$s] = $t' <<<"$totals")
done
printf '%s\n' "$line"
if [ -f "$OUT/gate.json" ]; then
	printf '\ngate: %s (%s)\n' "$(jq -r '.verdict // .overall // "?"' "$OUT/gate.json")" "$OUT/gate.json"
fi
printf '%s\n' "${rows[@]}" | jq -s --arg time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson totals "$totals" \
	--argjson st "$(printf '%s\n' "${present[@]}" | jq -R . | jq -sc .)" \
	'{tool: "zc-kernel-summary", time: $time, stages: $st, kernels: ., stage_totals: $totals}' >"$OUT/summary.json.tmp"
mv "$OUT/summary.json.tmp" "$OUT/summary.json"
printf '(also in %s)\n' "$OUT/summary.json"
if [ "${SUMMARY_REPORT:-1}" != 0 ]; then
	"$TOP/scripts/report.sh" || echo "summary: the results page could not be written (make report says why)" >&2
fi
exit "$rc"
