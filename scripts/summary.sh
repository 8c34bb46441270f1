#!/usr/bin/env bash
# summary.sh LTS...: the table printed at the end of `make`, one row per kernel,
# one column per stage, from what the stages recorded in $OUT/status/. Also
# written as $OUT/summary.json. Exit 1 when any recorded stage failed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

stages=(source patch kernel deb rpm image smoke)
present=()
for s in "${stages[@]}"; do
	if compgen -G "$OUT/status/*/$s" >/dev/null; then present+=("$s"); fi
done
[ "${#present[@]}" -gt 0 ] || { echo "summary: no stage has run yet (out/status is empty)"; exit 0; }

rc=0
json="[]"
declare -A cells width
for s in "${present[@]}"; do width[$s]=${#s}; done
for lts in "$@"; do
	k=$(kid "$lts")
	row="{\"kernel\":\"$lts\",\"profile\":\"${PROFILE:-smoke}\"}"
	for s in "${present[@]}"; do
		# source and patch do not depend on the profile; the later stages do
		case "$s" in source | patch) f="$OUT/status/$lts/$s" ;; *) f="$OUT/status/$k/$s" ;; esac
		cell="-"
		if [ -f "$f" ]; then
			# A record that is empty or cut (a full disk, an older version)
			# is shown as unreadable, never a crash of the table.
			result="" secs="" detail=""
			IFS=$'\t' read -r result secs detail <"$f" || true
			if [ -z "$result" ] || ! [[ $secs =~ ^[0-9]+$ ]]; then
				result=unreadable secs=0 detail="empty or damaged record $f"
			fi
			cell="$result ${secs}s ${detail}"
			[ "$result" = ok ] || rc=1
			row=$(jq -c --arg s "$s" --arg r "$result" --argjson t "$secs" --arg d "$detail" \
				'.[$s] = {result: $r, seconds: $t, detail: $d}' <<<"$row")
		fi
		cell=${cell:0:44}
		cells[$lts/$s]=$cell
		if [ "${#cell}" -gt "${width[$s]}" ]; then width[$s]=${#cell}; fi
	done
	json=$(jq -c --argjson r "$row" '. + [$r]' <<<"$json")
done
line=$(printf '%-11s' kernel)
for s in "${present[@]}"; do line+=$(printf ' | %-*s' "${width[$s]}" "$s"); done
printf '\n%s\n%s\n' "$line" "$(printf '%*s' "${#line}" '' | tr ' ' -)"
for lts in "$@"; do
	printf '%-11s' "$(kid "$lts")"
	for s in "${present[@]}"; do printf ' | %-*s' "${width[$s]}" "${cells[$lts/$s]}"; done
	printf '\n'
done
if [ -f "$OUT/gate.json" ]; then
	printf '\ngate: %s (%s)\n' "$(jq -r '.verdict // .overall // "?"' "$OUT/gate.json")" "$OUT/gate.json"
fi
jq . <<<"$json" >"$OUT/summary.json"
printf '(also in %s)\n' "$OUT/summary.json"
exit "$rc"
