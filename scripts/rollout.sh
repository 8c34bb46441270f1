#!/usr/bin/env bash
# rollout.sh: roll the kernel KREL out of the project's signed APT repository
# (channel CHANNEL) onto the hosts of INVENTORY with Ansible (rollout/site.yml):
# in waves, each host installs, kexecs into a trial boot that reverts by
# itself, proves the kernel with uname -r and zc-smoke, and only then boots it
# by default; the first failure halts the rollout and that host goes back to
# its last known-good kernel.
#
# Every run has an id and its own results directory ($OUT/rollout/runs/<id>/:
# plan.json, summary.json written as the run goes, ansible.log;
# $OUT/rollout/latest points at it). A ledger per kernel and inventory
# ($ROLLOUT_STATE/<krel>--<inventory hash>.json) remembers each host's
# verdict: on a re-run the hosts that passed are skipped, the ones that failed
# are quarantined (left out until ROLLOUT_CLEAR names them), and the waves are
# computed over the hosts left. The summary says why a run halted and gives
# the command that resumes it.
#
# Variables:
#   INVENTORY   Ansible inventory: a file, a directory or a dynamic inventory
#               script (default: the lab fleet's, $OUT/lab/inventory.ini);
#               checked with ansible-inventory first
#   CHANNEL     testing | stable (default stable)
#   KREL        kernel release (default: the 5.10 line's, $OUT/pkg/5.10/KREL)
#   REPO_URL    base URL of the repositories as the hosts reach it (the lab's
#               inventory sets its own); REPO_KEY: the archive key on this
#               machine (default $OUT/repo/zc-kernel-archive.gpg, the lab's
#               repository's key for the lab)
#   ROLLOUT_WAVES="1 1% 5% 25% 100%"  wave sizes: hosts or percentages of the
#               hosts left (1..100 %); the last size repeats
#   ROLLOUT_MAX_WAVE=500     no wave has more hosts than this
#   ROLLOUT_CANARY_GROUPS="g1 g2"  the first wave is one host of each group
#               (a canary per hardware class)
#   ROLLOUT_WAVE_GROUPS="g1 g2"    hosts go group by group (rack, datacenter)
#               and no wave mixes two groups
#   ROLLOUT_BAKE=0           seconds to wait after each wave before the next
#   ROLLOUT_HOST_HOOK=<cmd>  run on this machine per host after zc-smoke
#               (ZC_HOST, ZC_KREL); ROLLOUT_WAVE_HOOK=<cmd> per wave after the
#               bake (ZC_WAVE_HOSTS, ZC_KREL); a non-zero exit halts
#   ROLLOUT_APPROVE_AFTER="1 2"  waves after which an operator approves the
#               next one (touch the file the log names)
#   ROLLOUT_BOOT_TIMEOUT=180  ROLLOUT_CONNECT_TIMEOUT=60  ROLLOUT_SMOKE_TIMEOUT=300 (s)
#   ROLLOUT_ROLLBACK=kexec|reboot   ROLLOUT_LIMIT=<ansible --limit pattern>
#   ROLLOUT_CLEAR="h1,h2"    take these hosts out of quarantine (or "all")
#   ROLLOUT_FORCE_TEST_PROFILE=1  roll a test-profile kernel (smoke, quick,
#               debug) onto a non-lab inventory anyway; recorded in the summary
#   ROLLOUT_BECOME=1         ssh as an unprivileged user and become root
#   ROLLOUT_FORKS=50         parallel hosts (Ansible forks)
#   ROLLOUT_AUTO_PROMOTE=1   (lab only, default 1) when the lab's repository
#               is $OUT/repo and CHANNEL lacks KREL, run the pipeline's own
#               'make gate promote' for KREL's line first
#   ROLLOUT_VARS='{"zc_force_switch": true}'   more variables (a JSON object)
#   ROLLOUT_DRY_RUN=1        print the plan (hosts left, skipped, waves), run nothing
#   ROLLOUT_QUIET=1   Ansible's output only in the log, not on the terminal
#   ROLLOUT_RESULTS=<dir>    this run's results directory (default $OUT/rollout/runs/<id>)
#   ROLLOUT_STATE=<dir>      the ledgers (default $OUT/rollout/state)
#   ROLLOUT_ARGS="..."   more ansible-playbook arguments, split on blanks (e.g. -v)
# Exit: 0 when every host passed; 1 when the rollout halted (or failed to run).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

LAB_DIR=${LAB_DIR:-$OUT/lab}
inventory=${INVENTORY:-$LAB_DIR/inventory.ini}
# CHANNEL: stable by default; lab for a test-profile kernel in the lab (test
# profiles are never published to testing or stable, scripts/promote.sh).
channel=${CHANNEL:-}
case "$channel" in "" | testing | stable | lab | lab-*) ;; *) die "unknown CHANNEL '$channel': use lab, testing or stable" ;; esac
for t in ansible-playbook ansible-inventory ansible jq sha256sum; do
	command -v "$t" >/dev/null || die "$t is missing: run 'make deps' (Debian's ansible)"
done

# --- waves: sizes over the hosts left ---------------------------------------------------
# plan_waves TOTAL MAX SPEC...: the batch sizes, as a JSON list of integers
# summing to TOTAL (each spec is hosts or a percentage of TOTAL, rounded up, at
# least 1 and at most MAX; the last spec repeats).
plan_waves() {
	local total=$1 max=$2 w n left
	shift 2
	[[ $max =~ ^[1-9][0-9]*$ ]] || die "ROLLOUT_MAX_WAVE must be a number of hosts >= 1, not '$max'"
	[ "$#" -gt 0 ] || die "ROLLOUT_WAVES is empty"
	for w in "$@"; do
		if [[ $w =~ ^[0-9]+$ ]]; then
			[ "$w" -ge 1 ] || die "ROLLOUT_WAVES: a wave of 0 hosts ('$w') is not a wave"
		elif [[ $w =~ ^([0-9]+)%$ ]]; then
			n=${BASH_REMATCH[1]}
			{ [ "$n" -ge 1 ] && [ "$n" -le 100 ]; } || die "ROLLOUT_WAVES: '$w' is not a percentage between 1% and 100%"
		else
			die "ROLLOUT_WAVES: '$w' is neither a number of hosts nor a percentage"
		fi
	done
	left=$total
	local -a specs=("$@") out=()
	local i=0
	while [ "$left" -gt 0 ]; do
		w=${specs[$i]}
		if [[ $w =~ ^([0-9]+)%$ ]]; then n=${BASH_REMATCH[1]}; n=$(((n * total + 99) / 100)); else n=$w; fi
		[ "$n" -ge 1 ] || n=1
		[ "$n" -le "$max" ] || n=$max
		[ "$n" -le "$left" ] || n=$left
		out+=("$n")
		left=$((left - n))
		[ "$i" -ge $((${#specs[@]} - 1)) ] || i=$((i + 1))
	done
	if [ "${#out[@]}" = 0 ]; then echo '[]'; else printf '%s\n' "${out[@]}" | jq -s -c .; fi
}
if [ "${1:-}" = --plan-waves ]; then
	shift
	plan_waves "$@"
	exit 0
fi

# --- what to roll out ------------------------------------------------------------------
krel=${KREL:-}
if [ -z "$krel" ]; then
	[ -s "$OUT/pkg/5.10/KREL" ] || die "no KREL given and no $OUT/pkg/5.10/KREL: use make rollout KREL=<kernel release>"
	krel=$(cat "$OUT/pkg/5.10/KREL")
fi
[[ $krel =~ ^[0-9][A-Za-z0-9.+~_-]*$ ]] || die "KREL '$krel' does not look like a kernel release (e.g. 5.10.262-1-zc1-cloud)"

# --- where: the lab's inventory, or the user's -------------------------------------------
[ -e "$inventory" ] || {
	if [ "$inventory" = "$LAB_DIR/inventory.ini" ]; then
		die "no lab fleet ($inventory is missing): start one with 'make lab-fleet N=3', or give INVENTORY=<your inventory>"
	fi
	die "inventory $inventory not found"
}
inventory=$(readlink -f "$inventory")
lab=0
repo_dir=""
if [ -f "$(dirname "$inventory")/lab.json" ] && [ "$(dirname "$inventory")" = "$(readlink -f "$LAB_DIR")" ]; then
	lab=1
	repo_dir=$(jq -r .repo_dir "$LAB_DIR/lab.json")
	down=()
	while read -r h; do
		pf=$LAB_DIR/$h/qemu.pid
		[ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null || down+=("$h")
	done < <(jq -r '.hosts[].host' "$LAB_DIR/lab.json")
	# A lab VM that is gone is a host that fails: the rollout shows it. Only
	# say so up front.
	[ "${#down[@]}" = 0 ] || log rollout "$krel" "warning: lab VM(s) not running: ${down[*]} (make lab-down && make lab-fleet to start afresh)"
fi

# A file, a directory of inventories or a dynamic inventory script: what
# Ansible makes of it is what counts.
export ANSIBLE_CONFIG=$TOP/rollout/ansible.cfg PYTHONDONTWRITEBYTECODE=1 ANSIBLE_FORCE_COLOR=0
inv_json=$(mktemp)
trap 'rm -f "$inv_json"' EXIT
if ! ansible-inventory -i "$inventory" --list >"$inv_json" 2>"$inv_json.err"; then
	die "ansible-inventory cannot read $inventory: $(grep -v '^\s*$' "$inv_json.err" | tail -n 3 | tr '\n' ' ')"
fi
if grep -q '\[WARNING\]: \(Unable to parse\|No inventory was parsed\)' "$inv_json.err"; then
	die "ansible-inventory cannot parse $inventory: $(grep WARNING "$inv_json.err" | head -n 3 | tr '\n' ' ')"
fi
rm -f "$inv_json.err"
# The hosts, in the order the play takes them (with ROLLOUT_LIMIT applied).
mapfile -t all_hosts < <(ansible -i "$inventory" "${ROLLOUT_LIMIT:-all}" --list-hosts 2>/dev/null | sed -n 's/^    //p')
[ "${#all_hosts[@]}" -gt 0 ] || die "$inventory${ROLLOUT_LIMIT:+ (limit $ROLLOUT_LIMIT)} has no hosts"

# --- identity: test-profile kernels stay in the lab -----------------------------------
# The kernel release ends in its profile (<upstream>-<debrev>-zc<N>-<profile>);
# a profile whose CHANNELS is "lab" (smoke, quick, debug) is a test kernel.
profile=""
if [[ $krel =~ -zc[0-9]+-([a-z0-9]+)$ ]]; then profile=${BASH_REMATCH[1]}; fi
forced=null
if [ -n "$profile" ] && [ -f "$TOP/packaging/configs/$profile.profile" ] &&
	grep -qx 'CHANNELS=lab' "$TOP/packaging/configs/$profile.profile" && [ "$lab" = 0 ]; then
	if [ "${ROLLOUT_FORCE_TEST_PROFILE:-0}" != 1 ]; then
		die "$krel is a '$profile'-profile kernel, a test kernel for CI and the lab only (packaging/configs/$profile.profile: CHANNELS=lab), and $inventory is not the lab: roll a fleet profile (cloud, distro), or force it with ROLLOUT_FORCE_TEST_PROFILE=1 (recorded in the summary)"
	fi
	forced=$(jq -n -c --arg p "$profile" --arg inv "$inventory" --arg who "${SUDO_USER:-${USER:-$(id -un)}}" \
		'{test_profile: $p, inventory: $inv, by: $who, at: (now | todate), how: "ROLLOUT_FORCE_TEST_PROFILE=1"}')
	log rollout "$krel" "FORCED: a test-profile ($profile) kernel onto $inventory (recorded in the summary)"
fi

check_key() {
	key=${REPO_KEY:-${repo_dir:-$OUT/repo}/zc-kernel-archive.gpg}
	[ -s "$key" ] || die "no archive key $key: the repository must be promoted first ('make promote CHANNEL=testing'), or set REPO_KEY=<key file>"
}
if [ "$lab" = 0 ]; then check_key; fi
extra_url=()
if [ -n "${REPO_URL:-}" ] && [[ $REPO_URL != file://* ]]; then
	extra_url=(zc_repo_url="${REPO_URL%/}")
elif [ "$lab" = 0 ] && ! jq -e --args '[._meta.hostvars[$ARGS.positional[]] | has("zc_repo_url")] | all' "${all_hosts[@]}" <"$inv_json" >/dev/null 2>&1; then
	die "REPO_URL is not set and $inventory sets no zc_repo_url for every host: give the base URL hosts reach the repositories at (REPO_URL=http://...)"
fi

# The lab's repository is this machine's: check (and for $OUT/repo, make) that
if [ -z "$channel" ]; then
	channel=stable
	if [ "$lab" = 1 ] && [ -n "$profile" ] && grep -qsx 'CHANNELS=lab' "$TOP/packaging/configs/$profile.profile"; then channel=lab; fi
fi
# the channel carries the kernel, so a failure says so before any host is touched.
has_krel() { grep -qx "Package: linux-image-$krel" "$1/apt/dists/$channel/main/binary-amd64/Packages" 2>/dev/null; }
if [ "$lab" = 1 ] && ! has_krel "$repo_dir"; then
	line=""
	for f in "$OUT"/pkg/*/KREL; do [ "$(cat "$f" 2>/dev/null)" = "$krel" ] && line=$(basename "$(dirname "$f")"); done
	if [ "${ROLLOUT_AUTO_PROMOTE:-1}" = 1 ] && [ "$repo_dir" = "$(readlink -f "$OUT/repo")" ] && [ -n "$line" ] &&
		{ [ "$channel" = lab ] || [ "$channel" = testing ] || [ "$channel" = stable ]; }; then
		log rollout "$krel" "the lab's repository has no $krel in $channel: gate and promote the $line line first"
		make -s --no-print-directory -C "$TOP" gate KERNELS="${line%-"$profile"}" PROFILE="${profile:-smoke}"
		if [ "$channel" = lab ]; then
			make -s --no-print-directory -C "$TOP" promote CHANNEL=lab PROFILE="${profile:-smoke}" >/dev/null
		else
			make -s --no-print-directory -C "$TOP" promote CHANNEL=testing PROFILE="${profile:-smoke}" >/dev/null
			if [ "$channel" = stable ]; then make -s --no-print-directory -C "$TOP" promote CHANNEL=stable PROFILE="${profile:-smoke}" >/dev/null; fi
		fi
		has_krel "$repo_dir" || die "promotion did not put linux-image-$krel into $channel"
	else
		die "the lab's repository ($repo_dir) has no linux-image-$krel in channel $channel: run 'make gate promote CHANNEL=testing' (then CHANNEL=stable) for it"
	fi
fi

# For the lab, after its automatic promotion above (which makes the key).
if [ "$lab" = 1 ]; then check_key; fi

# --- the ledger: done and quarantined hosts ------------------------------------------
state_dir=${ROLLOUT_STATE:-$OUT/rollout/state}
mkdir -p "$state_dir"
ledger=$state_dir/$krel--$(printf '%s' "$inventory" | sha256sum | cut -c1-12).json
[ -f "$ledger" ] || jq -n --arg k "$krel" --arg inv "$inventory" '{target: $k, inventory: $inv, hosts: {}}' >"$ledger"
if [ -n "${ROLLOUT_CLEAR:-}" ]; then
	if [ "$ROLLOUT_CLEAR" = all ]; then
		jq '.hosts |= with_entries(select(.value.verdict != "fail"))' "$ledger" >"$ledger.tmp"
	else
		jq --arg c "$ROLLOUT_CLEAR" '($c | split(",") | map(select(length > 0))) as $c
			| .hosts |= with_entries(select((.key | IN($c[])) | not))' "$ledger" >"$ledger.tmp"
	fi
	mv "$ledger.tmp" "$ledger"
	log rollout "$krel" "cleared from quarantine: $ROLLOUT_CLEAR"
fi
declare -A seen=()
while IFS=$'\t' read -r h v; do seen[$h]=$v; done < <(jq -r '.hosts | to_entries[] | "\(.key)\t\(.value.verdict)"' "$ledger")
hosts_left=()
skipped_json='{}'
for h in "${all_hosts[@]}"; do
	case "${seen[$h]:-}" in
	pass) skipped_json=$(jq -c --arg h "$h" --argjson r "$(jq -c --arg h "$h" '.hosts[$h]' "$ledger")" \
		'. + {($h): {verdict: "done earlier", note: "passed in run \($r.run_id) at \($r.at)"}}' <<<"$skipped_json") ;;
	fail) skipped_json=$(jq -c --arg h "$h" --argjson r "$(jq -c --arg h "$h" '.hosts[$h]' "$ledger")" \
		'. + {($h): {verdict: "quarantined", note: "failed in run \($r.run_id): \($r.reason // "?"); ROLLOUT_CLEAR=\($h) after repairing it"}}' <<<"$skipped_json") ;;
	*) hosts_left+=("$h") ;;
	esac
done

# --- the order of the hosts and the waves ------------------------------------------
group_hosts() { # all hosts of group G, children included, in inventory order
	ansible -i "$inventory" "$1" --list-hosts 2>/dev/null | sed -n 's/^    //p'
}
ordered=("${hosts_left[@]}")
cuts=() # wave boundaries forced by ROLLOUT_WAVE_GROUPS / canaries (indexes into ordered)
if [ -n "${ROLLOUT_WAVE_GROUPS:-}" ] && [ "${#ordered[@]}" -gt 0 ]; then
	declare -A placed=()
	new=()
	for g in $ROLLOUT_WAVE_GROUPS; do
		mapfile -t gh < <(group_hosts "$g")
		[ "${#gh[@]}" -gt 0 ] || die "ROLLOUT_WAVE_GROUPS: group '$g' has no hosts in $inventory"
		start=${#new[@]}
		for h in "${gh[@]}"; do
			if [[ " ${ordered[*]} " == *" $h "* ]] && [ -z "${placed[$h]:-}" ]; then new+=("$h"); placed[$h]=1; fi
		done
		[ "${#new[@]}" = "$start" ] || cuts+=("$start")
	done
	start=${#new[@]}
	for h in "${ordered[@]}"; do [ -n "${placed[$h]:-}" ] || new+=("$h"); done
	[ "${#new[@]}" = "$start" ] || cuts+=("$start")
	ordered=("${new[@]}")
fi
canaries=()
if [ -n "${ROLLOUT_CANARY_GROUPS:-}" ] && [ "${#ordered[@]}" -gt 0 ]; then
	for g in $ROLLOUT_CANARY_GROUPS; do
		mapfile -t gh < <(group_hosts "$g")
		[ "${#gh[@]}" -gt 0 ] || die "ROLLOUT_CANARY_GROUPS: group '$g' has no hosts in $inventory"
		for h in "${gh[@]}"; do
			if [[ " ${ordered[*]} " == *" $h "* ]] && [[ " ${canaries[*]} " != *" $h "* ]]; then canaries+=("$h"); break; fi
		done
	done
fi
total=${#ordered[@]}
read -r -a wave_specs <<<"${ROLLOUT_WAVES:-1 1% 5% 25% 100%}"
max_wave=${ROLLOUT_MAX_WAVE:-500}
waves_json='[]'
if [ "$total" -gt 0 ]; then
	if [ "${#canaries[@]}" -gt 0 ]; then
		# the canaries first, one wave; then the planned waves over the rest
		rest=()
		for h in "${ordered[@]}"; do [[ " ${canaries[*]} " == *" $h "* ]] || rest+=("$h"); done
		ordered=("${canaries[@]}" "${rest[@]}")
		specs_rest=("${wave_specs[@]:1}")
		[ "${#specs_rest[@]}" -gt 0 ] || specs_rest=("${wave_specs[@]}")
		if [ "${#rest[@]}" -gt 0 ]; then
			waves_json=$(jq -c --argjson c "${#canaries[@]}" --argjson r "$(plan_waves "${#rest[@]}" "$max_wave" "${specs_rest[@]}")" -n '[$c] + $r')
		else
			waves_json="[${#canaries[@]}]"
		fi
		cuts=()
	else
		waves_json=$(plan_waves "$total" "$max_wave" "${wave_specs[@]}")
	fi
	if [ "${#cuts[@]}" -gt 0 ]; then
		# split waves at the group boundaries: no wave mixes two groups
		waves_json=$(jq -c -n --argjson w "$waves_json" --argjson cuts "$(printf '%s\n' "${cuts[@]}" | jq -s -c .)" --argjson t "$total" '
			[foreach $w[] as $n ({pos: 0}; .start = .pos | .pos += $n; [.start, .pos])] as $iv
			| [$iv[] as [$a, $b] | ([$a] + [$cuts[] | select(. > $a and . < $b)] + [$b]) as $p
			   | range(0; ($p | length) - 1) as $i | $p[$i + 1] - $p[$i]]')
	fi
else
	plan_waves 1 "$max_wave" "${wave_specs[@]}" >/dev/null # validate the spec all the same
fi
# the first host of each wave, for the approvals
approve_json='[]'
if [ -n "${ROLLOUT_APPROVE_AFTER:-}" ] && [ "$total" -gt 0 ]; then
	approve_json=$(jq -c -n --argjson w "$waves_json" --args --arg a "$ROLLOUT_APPROVE_AFTER" '
		($a | split(" ") | map(select(length > 0) | tonumber)) as $after
		| [foreach $w[] as $n ({pos: 0}; .start = .pos | .pos += $n; .start)] as $starts
		| [$after[] | select(. >= 1 and . < ($w | length)) | $ARGS.positional[$starts[. - 1]]]' "${ordered[@]}")
fi

# --- this run ---------------------------------------------------------------------------
run_id=$(date -u +%Y%m%dT%H%M%SZ)-$$
res=${ROLLOUT_RESULTS:-$OUT/rollout/runs/$run_id}
mkdir -p "$res"
res=$(cd "$res" && pwd)
rm -f "$res/summary.json"
# The command that resumes (or repeats) this rollout: the ledger makes it skip
# what is done.
resume="make rollout INVENTORY=$inventory CHANNEL=$channel KREL=$krel"
for v in REPO_URL REPO_KEY ROLLOUT_WAVES ROLLOUT_MAX_WAVE ROLLOUT_CANARY_GROUPS ROLLOUT_WAVE_GROUPS ROLLOUT_BAKE \
	ROLLOUT_HOST_HOOK ROLLOUT_WAVE_HOOK ROLLOUT_APPROVE_AFTER ROLLOUT_BOOT_TIMEOUT ROLLOUT_CONNECT_TIMEOUT \
	ROLLOUT_SMOKE_TIMEOUT ROLLOUT_ROLLBACK ROLLOUT_LIMIT ROLLOUT_FORCE_TEST_PROFILE ROLLOUT_BECOME ROLLOUT_FORKS \
	ROLLOUT_VARS ROLLOUT_STATE; do
	if [ -n "${!v:-}" ]; then resume+=" $v=$(printf '%q' "${!v}")"; fi
done
if [ "$lab" = 1 ] && [ "$LAB_DIR" != "$OUT/lab" ]; then resume+=" LAB_DIR=$(printf '%q' "$LAB_DIR")"; fi
jq -n --arg run "$run_id" --arg krel "$krel" --arg ch "$channel" --arg inv "$inventory" --arg ledger "$ledger" \
	--argjson waves "$waves_json" --argjson skipped "$skipped_json" --arg resume "$resume" --argjson forced "$forced" \
	--argjson approve "$approve_json" --argjson become "$([ "${ROLLOUT_BECOME:-0}" = 1 ] && echo true || echo false)" --args \
	'{run_id: $run, krel: $krel, channel: $ch, inventory: $inv, ledger: $ledger, waves: $waves,
	  hosts_left: $ARGS.positional, skipped: $skipped, resume: $resume, forced: $forced, approve_after: $approve,
	  become: $become}' \
	"${ordered[@]}" >"$res/plan.json"
if [ -z "${ROLLOUT_RESULTS:-}" ]; then
	ln -sfn "runs/$run_id" "$OUT/rollout/latest"
	ln -sfn "runs/$run_id/summary.json" "$OUT/rollout/summary.json"
fi

log rollout "$krel" "run $run_id: $krel (channel $channel) onto ${#all_hosts[@]} host(s) of $inventory: $total left, $(jq length <<<"$skipped_json") skipped (done or quarantined); waves $waves_json"
if [ "${ROLLOUT_DRY_RUN:-0}" = 1 ]; then
	jq . "$res/plan.json"
	exit 0
fi
if [ "$total" = 0 ]; then
	jq -n --slurpfile p "$res/plan.json" '$p[0] as $p | {tool: "zc-kernel-rollout", run_id: $p.run_id, target: $p.krel,
		verdict: (if ([$p.skipped[] | .verdict] | all(. == "done earlier")) then "pass" else "incomplete" end),
		halt_reason: (if ([$p.skipped[] | .verdict] | any(. == "quarantined")) then "only quarantined hosts are left (ROLLOUT_CLEAR=<host,...> after repairing them)" else null end),
		waves_run: 0, resume: $p.resume, forced: $p.forced, needs_human: [],
		hosts: [$p.skipped | to_entries[] | {host: .key, verdict: .value.verdict, note: .value.note, phases: {}}]}' >"$res/summary.json"
	log rollout "$krel" "nothing left to do: $(jq -r '.hosts | map("\(.host) \(.verdict)") | join(", ")' "$res/summary.json")"
	[ "$(jq -r .verdict "$res/summary.json")" = pass ]
	exit $?
fi

jq -n --arg krel "$krel" --arg ch "$channel" --arg key "$(readlink -f "$key")" --argjson waves "$waves_json" \
	--argjson boot "${ROLLOUT_BOOT_TIMEOUT:-180}" --argjson conn "${ROLLOUT_CONNECT_TIMEOUT:-60}" \
	--argjson smoke "${ROLLOUT_SMOKE_TIMEOUT:-300}" --arg rb "${ROLLOUT_ROLLBACK:-kexec}" --arg run "$run_id" \
	--argjson bake "${ROLLOUT_BAKE:-0}" --arg hh "${ROLLOUT_HOST_HOOK:-}" --arg wh "${ROLLOUT_WAVE_HOOK:-}" \
	--argjson approve "$approve_json" --arg adir "$([ "$approve_json" = '[]' ] || echo "$res")" --args \
	'{zc_krel: $krel, zc_channel: $ch, zc_repo_key_file: $key, rollout_waves: $waves, rollout_hosts: $ARGS.positional,
	  zc_boot_timeout: $boot, zc_connect_timeout: $conn, zc_smoke_timeout: $smoke, zc_rollback_method: $rb,
	  zc_run_id: $run, rollout_bake_seconds: $bake, zc_host_hook: $hh, rollout_wave_hook: $wh,
	  rollout_approval_after: $approve, rollout_approval_dir: $adir}' "${ordered[@]}" \
	>"$res/extra-vars.json" || die "ROLLOUT_*_TIMEOUT and ROLLOUT_BAKE must be numbers of seconds"
if [ -n "${ROLLOUT_VARS:-}" ]; then
	jq --argjson v "$ROLLOUT_VARS" '. + $v' "$res/extra-vars.json" >"$res/extra-vars.json.tmp" ||
		die "ROLLOUT_VARS must be a JSON object, e.g. '{\"zc_force_switch\": true}'"
	mv "$res/extra-vars.json.tmp" "$res/extra-vars.json"
fi
case "${ROLLOUT_ROLLBACK:-kexec}" in kexec | reboot) ;; *) die "ROLLOUT_ROLLBACK must be kexec or reboot" ;; esac

args=(-i "$inventory" -e "@$res/extra-vars.json")
for e in "${extra_url[@]}"; do args+=(-e "$e"); done
if [ "${ROLLOUT_BECOME:-0}" = 1 ]; then args+=(--become); fi
# shellcheck disable=SC2206 # words on purpose
if [ -n "${ROLLOUT_ARGS:-}" ]; then args+=($ROLLOUT_ARGS); fi
[ "$approve_json" = '[]' ] || log rollout "$krel" "approvals: after the waves starting with $(jq -r 'join(", ")' <<<"$approve_json"), touch $res/approve-after-<that host>"

export ZC_ROLLOUT_SUMMARY=$res/summary.json ZC_ROLLOUT_PLAN=$res/plan.json ZC_ROLLOUT_LEDGER=$ledger
if [ -n "${ROLLOUT_FORKS:-}" ]; then export ANSIBLE_FORKS=$ROLLOUT_FORKS; fi
rc=0
# Ctrl-C or a kill reaches ansible-playbook (same process group); the
# summary it wrote as it went is then finished here.
interrupted=""
trap 'interrupted=INT' INT
trap 'interrupted=TERM' TERM
if [ "${ROLLOUT_QUIET:-0}" = 1 ]; then
	(cd "$TOP/rollout" && exec ansible-playbook "${args[@]}" site.yml) >"$res/ansible.log" 2>&1 || rc=$?
else
	# Ansible's own progress, task by task, is what a newcomer watches.
	set +e
	(cd "$TOP/rollout" && exec ansible-playbook "${args[@]}" site.yml) 2>&1 | tee "$res/ansible.log"
	rc=${PIPESTATUS[0]}
	set -e
fi
trap - INT TERM
if [ ! -f "$res/summary.json" ]; then
	tail -n 30 "$res/ansible.log" >&2
	die "ansible-playbook exited $rc before any summary was written (log: $res/ansible.log)"
fi
if [ "$(jq -r .verdict "$res/summary.json")" = running ]; then
	# ansible-playbook died without its end of play: the summary is the one
	# written as it went; say what happened.
	jq --arg why "ansible-playbook stopped (exit $rc${interrupted:+, SIG$interrupted}) in the middle of wave" '
		.verdict = "halted" | .halt_reason = "\($why) \(.waves_run): the run was interrupted"
		| .hosts |= map(if .verdict == "running" then .verdict = "interrupted" | .note = (.note | sub("^running"; "interrupted"))
		                elif .verdict == "pending" then .verdict = "not touched" | .note = "the run was interrupted before this host'"'"'s wave"
		                else . end)
		| .counts = (reduce .hosts[] as $h ({}; .[$h.verdict] += 1))' "$res/summary.json" >"$res/summary.json.tmp"
	mv "$res/summary.json.tmp" "$res/summary.json"
fi
if [ "${ROLLOUT_QUIET:-0}" = 1 ]; then
	# The table is the callback's, at the end of the log.
	sed -n '/^zc-kernel rollout of /,$p' "$res/ansible.log"
fi
verdict=$(jq -r .verdict "$res/summary.json")
if [ "$verdict" = pass ] && [ "$rc" = 0 ]; then
	log rollout "$krel" "pass: every host runs $krel, passed zc-smoke and boots it by default (run $run_id, $res)"
	exit 0
fi
jq -r '.hosts[] | select(.verdict == "fail" or .verdict == "interrupted") | "  \(.host): \(.note)"' "$res/summary.json" >&2
log rollout "$krel" "HALTED ($verdict, ansible exit $rc): $(jq -r '.halt_reason // "see the summary"' "$res/summary.json")"
log rollout "$krel" "resume with: $resume"
log rollout "$krel" "see $res/summary.json and $res/ansible.log"
exit 1
