#!/usr/bin/env bash
# rollout.sh: roll the kernel KREL out of the project's signed APT repository
# (channel CHANNEL) onto the hosts of INVENTORY with Ansible (rollout/site.yml):
# in waves, each host installs, kexecs, proves the kernel with uname -r and
# zc-smoke, and only then boots it by default; the first failure halts the
# rollout and that host goes back to its previous kernel. Prints a table per
# host and writes $OUT/rollout/summary.json (also when halted); the Ansible
# output is shown and kept in $OUT/rollout/ansible.log.
#
# Variables:
#   INVENTORY   Ansible inventory (default: the lab fleet's, $OUT/lab/inventory.ini)
#   CHANNEL     testing | stable (default stable)
#   KREL        kernel release (default: the 5.10 line's, $OUT/pkg/5.10/KREL)
#   REPO_URL    base URL of the repositories as the hosts reach it (the lab's
#               inventory sets its own); REPO_KEY: the archive key on this
#               machine (default $OUT/repo/zc-kernel-archive.gpg, the lab's
#               repository's key for the lab)
#   ROLLOUT_WAVES="1 10% 50% 100%"   serial batches (the last one repeats)
#   ROLLOUT_BOOT_TIMEOUT=180  ROLLOUT_CONNECT_TIMEOUT=60  ROLLOUT_SMOKE_TIMEOUT=300 (s)
#   ROLLOUT_ROLLBACK=kexec|reboot   ROLLOUT_LIMIT=<ansible --limit pattern>
#   ROLLOUT_AUTO_PROMOTE=1   (lab only, default 1) when the lab's repository
#               is $OUT/repo and CHANNEL lacks KREL, run the pipeline's own
#               'make gate promote' for KREL's line first
#   ROLLOUT_VARS='{"zc_force_switch": true}'   more variables (a JSON object)
#   ROLLOUT_QUIET=1   Ansible's output only in the log, not on the terminal
#   ROLLOUT_RESULTS=<dir>   where summary.json and ansible.log go (default $OUT/rollout)
#   ROLLOUT_ARGS="..."   more ansible-playbook arguments, split on blanks (e.g. -v)
# Exit: 0 when every host passed; 1 when the rollout halted (or failed to run).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

LAB_DIR=${LAB_DIR:-$OUT/lab}
inventory=${INVENTORY:-$LAB_DIR/inventory.ini}
channel=${CHANNEL:-stable}
case "$channel" in testing | stable | lab-*) ;; *) die "unknown CHANNEL '$channel': use testing or stable" ;; esac
for t in ansible-playbook jq; do
	command -v "$t" >/dev/null || die "$t is missing: run 'make deps' (Debian's ansible)"
done

# --- what to roll out ------------------------------------------------------------------
krel=${KREL:-}
if [ -z "$krel" ]; then
	[ -s "$OUT/pkg/5.10/KREL" ] || die "no KREL given and no $OUT/pkg/5.10/KREL: use make rollout KREL=<kernel release>"
	krel=$(cat "$OUT/pkg/5.10/KREL")
fi
[[ $krel =~ ^[0-9][A-Za-z0-9.+~_-]*$ ]] || die "KREL '$krel' does not look like a kernel release (e.g. 5.10.223-zc1)"

# --- where: the lab's inventory, or the user's -------------------------------------------
[ -f "$inventory" ] || {
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
check_key() {
	key=${REPO_KEY:-${repo_dir:-$OUT/repo}/zc-kernel-archive.gpg}
	[ -s "$key" ] || die "no archive key $key: the repository must be promoted first ('make promote CHANNEL=testing'), or set REPO_KEY=<key file>"
}
if [ "$lab" = 0 ]; then check_key; fi
extra_url=()
if [ -n "${REPO_URL:-}" ] && [[ $REPO_URL != file://* ]]; then
	extra_url=(zc_repo_url="${REPO_URL%/}")
elif [ "$lab" = 0 ] && ! grep -q 'zc_repo_url' "$inventory"; then
	die "REPO_URL is not set and $inventory sets no zc_repo_url: give the base URL hosts reach the repositories at (REPO_URL=http://...)"
fi

# The lab's repository is this machine's: check (and for $OUT/repo, make) that
# the channel carries the kernel, so a failure says so before any host is touched.
has_krel() { grep -qx "Package: linux-image-$krel" "$1/apt/dists/$channel/main/binary-amd64/Packages" 2>/dev/null; }
if [ "$lab" = 1 ] && ! has_krel "$repo_dir"; then
	line=""
	for f in "$OUT"/pkg/*/KREL; do [ "$(cat "$f" 2>/dev/null)" = "$krel" ] && line=$(basename "$(dirname "$f")"); done
	if [ "${ROLLOUT_AUTO_PROMOTE:-1}" = 1 ] && [ "$repo_dir" = "$(readlink -f "$OUT/repo")" ] && [ -n "$line" ] &&
		{ [ "$channel" = testing ] || [ "$channel" = stable ]; }; then
		log rollout "$krel" "the lab's repository has no $krel in $channel: gate and promote the $line line first"
		make -s --no-print-directory -C "$TOP" gate KERNELS="$line"
		make -s --no-print-directory -C "$TOP" promote CHANNEL=testing >/dev/null
		if [ "$channel" = stable ]; then make -s --no-print-directory -C "$TOP" promote CHANNEL=stable >/dev/null; fi
		has_krel "$repo_dir" || die "promotion did not put linux-image-$krel into $channel"
	else
		die "the lab's repository ($repo_dir) has no linux-image-$krel in channel $channel: run 'make gate promote CHANNEL=testing' (then CHANNEL=stable) for it"
	fi
fi

# For the lab, after its automatic promotion above (which makes the key).
if [ "$lab" = 1 ]; then check_key; fi

# --- run ----------------------------------------------------------------------------------
res=${ROLLOUT_RESULTS:-$OUT/rollout}
mkdir -p "$res"
rm -f "$res/summary.json"
waves_json=$(for w in ${ROLLOUT_WAVES:-1 10% 50% 100%}; do
	if [[ $w =~ ^[0-9]+$ ]]; then echo "$w"
	elif [[ $w =~ ^[0-9]+%$ ]]; then jq -n --arg w "$w" '$w'
	else die "ROLLOUT_WAVES: '$w' is neither a number of hosts nor a percentage"; fi
done | jq -s -c .)
jq -n --arg krel "$krel" --arg ch "$channel" --arg key "$(readlink -f "$key")" --argjson waves "$waves_json" \
	--argjson boot "${ROLLOUT_BOOT_TIMEOUT:-180}" --argjson conn "${ROLLOUT_CONNECT_TIMEOUT:-60}" \
	--argjson smoke "${ROLLOUT_SMOKE_TIMEOUT:-300}" --arg rb "${ROLLOUT_ROLLBACK:-kexec}" \
	'{zc_krel: $krel, zc_channel: $ch, zc_repo_key_file: $key, rollout_waves: $waves,
	  zc_boot_timeout: $boot, zc_connect_timeout: $conn, zc_smoke_timeout: $smoke, zc_rollback_method: $rb}' \
	>"$res/extra-vars.json" || die "ROLLOUT_*_TIMEOUT must be numbers of seconds"
if [ -n "${ROLLOUT_VARS:-}" ]; then
	jq --argjson v "$ROLLOUT_VARS" '. + $v' "$res/extra-vars.json" >"$res/extra-vars.json.tmp" ||
		die "ROLLOUT_VARS must be a JSON object, e.g. '{\"zc_force_switch\": true}'"
	mv "$res/extra-vars.json.tmp" "$res/extra-vars.json"
fi
case "${ROLLOUT_ROLLBACK:-kexec}" in kexec | reboot) ;; *) die "ROLLOUT_ROLLBACK must be kexec or reboot" ;; esac

args=(-i "$inventory" -e "@$res/extra-vars.json")
for e in "${extra_url[@]}"; do args+=(-e "$e"); done
if [ -n "${ROLLOUT_LIMIT:-}" ]; then args+=(--limit "$ROLLOUT_LIMIT"); fi
# shellcheck disable=SC2206 # words on purpose
if [ -n "${ROLLOUT_ARGS:-}" ]; then args+=($ROLLOUT_ARGS); fi

log rollout "$krel" "rolling $krel (channel $channel) onto $(ansible-inventory -i "$inventory" --list 2>/dev/null | jq '[._meta.hostvars | keys[]] | length') host(s) of $inventory; waves $waves_json"
# PYTHONDONTWRITEBYTECODE: no __pycache__ left in rollout/callback_plugins
export ANSIBLE_CONFIG=$TOP/rollout/ansible.cfg ZC_ROLLOUT_SUMMARY=$res/summary.json ANSIBLE_FORCE_COLOR=0 PYTHONDONTWRITEBYTECODE=1
rc=0
if [ "${ROLLOUT_QUIET:-0}" = 1 ]; then
	(cd "$TOP/rollout" && ansible-playbook "${args[@]}" site.yml) >"$res/ansible.log" 2>&1 || rc=$?
	# The table is the callback's, at the end of the log.
	[ ! -f "$res/summary.json" ] || sed -n '/^zc-kernel rollout of /,$p' "$res/ansible.log"
else
	# Ansible's own progress, task by task, is what a newcomer watches.
	(cd "$TOP/rollout" && ansible-playbook "${args[@]}" site.yml) 2>&1 | tee "$res/ansible.log"
	rc=${PIPESTATUS[0]}
fi
if [ ! -f "$res/summary.json" ]; then
	tail -n 30 "$res/ansible.log" >&2
	die "ansible-playbook exited $rc before any summary was written (log: $res/ansible.log)"
fi
verdict=$(jq -r .verdict "$res/summary.json")
if [ "$verdict" = pass ] && [ "$rc" = 0 ]; then
	log rollout "$krel" "pass: every host runs $krel, passed zc-smoke and boots it by default (log: $res/ansible.log)"
	exit 0
fi
jq -r '.hosts[] | select(.verdict == "fail" or .verdict == "interrupted") | "  \(.host): \(.note)"' "$res/summary.json" >&2
log rollout "$krel" "HALTED ($verdict, ansible exit $rc): see $res/summary.json and $res/ansible.log"
exit 1
