#!/usr/bin/env bash
# outdated.sh [LTS...]: for each kernel line, the pinned source version, the
# newest version of the same source package that the line's suites serve
# (SUITES= in patches/<lts>/source.conf), and how many releases lie between.
# Lines that borrow another's source (the control) follow that line and are
# not listed. The lists are refreshed through the project-private apt
# configuration only (lib.sh papt_update), never /etc/apt.
#
# Output: a table on stdout and $OUT/outdated.json:
#   {"checked_at": "...", "lines": [{"lts", "package", "suites", "pinned",
#    "newest", "behind_by" (releases of the archive newer than the pin),
#    "stable_releases_behind" (upstream stable releases between the two, or
#    null), "newer": [...], "status": "current"|"behind"|"error",
#    "error": null|"..."}]}
# Exit 0 when every line is current, 3 when one is behind, 2 on an error (an
# unreachable archive, a package no suite serves): an error never reads as
# "current".
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

need_tools outdated apt-get apt-cache dpkg jq
lines=("$@")
if [ "${#lines[@]}" -eq 0 ]; then read -r -a lines <<<"$(known_lts)"; fi
mkdir -p "$OUT"
now=$(date -u +%FT%TZ)
entries="$OUT/.outdated.$$.jsonl"
: >"$entries"
trap 'rm -f "$entries"' EXIT

archive_err=""
if ! upd=$(PAPT_REFRESH=${PAPT_REFRESH:-1} papt_update 2>&1); then
	archive_err=$(printf '%s\n' "$upd" | sed -n 's/^error: //p' | head -n1)
	archive_err=${archive_err:-could not refresh the private apt lists}
	# the last lines of apt's own log say which source failed
	if [ -f "$PAPT_DIR/update.log" ]; then
		archive_err="$archive_err: $(grep -E '^(E|W): ' "$PAPT_DIR/update.log" | head -n 2 | tr '\n' ' ')"
	fi
fi

worst=0
printf '%-8s %-20s %-22s %-22s %s\n' line package pinned newest status
for lts in "${lines[@]}"; do
	load_conf "$lts"
	[ "$SRC_LINE" = "$lts" ] || continue
	suites=${CONF_SUITES:-$CONF_SUITE}
	newest="" behind=0 stable=null status=error err="$archive_err" newer=()
	if [ -z "$err" ]; then
		mapfile -t served < <(papt_versions "$CONF_PACKAGE" "$suites")
		if [ "${#served[@]}" -eq 0 ]; then
			err="no suite of $suites serves $CONF_PACKAGE"
		else
			newest=${served[0]%% *}
			for v in "${served[@]}"; do
				v=${v%% *}
				if dpkg --compare-versions "$v" gt "$CONF_VERSION"; then newer+=("$v"); fi
			done
			behind=${#newer[@]}
			if [ "$behind" -eq 0 ]; then status=current; else status=behind; fi
			# upstream stable releases in between (same major.minor): 5.10.223 -> .262 is 39
			pu=${CONF_VERSION%-*} nu=${newest%-*}
			if [ "${pu%.*}" = "${nu%.*}" ] && [[ ${pu##*.} =~ ^[0-9]+$ ]] && [[ ${nu##*.} =~ ^[0-9]+$ ]]; then
				stable=$((${nu##*.} - ${pu##*.}))
			fi
		fi
	fi
	case "$status" in
	current) shown="current" ;;
	behind)
		shown="BEHIND by $behind release(s) of the archive ($stable upstream stable release(s)): make refresh KERNEL=$lts"
		[ "$worst" = 2 ] || worst=3
		;;
	*)
		shown="ERROR: $err"
		worst=2
		;;
	esac
	printf '%-8s %-20s %-22s %-22s %s\n' "$lts" "$CONF_PACKAGE" "$CONF_VERSION" "${newest:-?}" "$shown"
	jq -cn --arg lts "$lts" --arg pkg "$CONF_PACKAGE" --arg suites "$suites" --arg pinned "$CONF_VERSION" \
		--arg newest "$newest" --argjson behind "$behind" --argjson stable "$stable" --arg status "$status" --arg err "$err" \
		--args '{lts: $lts, package: $pkg, suites: ($suites | split(",")), pinned: $pinned,
		  newest: (if $newest == "" then null else $newest end),
		  behind_by: (if $status == "error" then null else $behind end),
		  stable_releases_behind: (if $status == "error" then null else $stable end),
		  newer: $ARGS.positional, status: $status, error: (if $err == "" then null else $err end)}' \
		"${newer[@]}" >>"$entries"
done
jq -s --arg now "$now" '{checked_at: $now, lines: .}' "$entries" >"$OUT/outdated.json.new"
mv "$OUT/outdated.json.new" "$OUT/outdated.json"
case "$worst" in
0) echo "every line is on the newest version its suites serve ($OUT/outdated.json)" ;;
3) echo "a line is behind its distro's newest release: run the 'make refresh' shown ($OUT/outdated.json)" ;;
2) echo "error: could not tell whether every line is current (see above; $OUT/outdated.json). Is the Debian archive reachable?" >&2 ;;
esac
exit "$worst"
