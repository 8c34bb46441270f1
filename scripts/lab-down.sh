#!/usr/bin/env bash
# lab-down.sh: stop the lab fleet of scripts/lab-fleet.sh (its qemu VMs and
# its repository HTTP server) and remove the VMs' disks. Idempotent: with no
# lab running it says so and exits 0. Keeps the ssh key and the console logs.
# Only processes started by lab-fleet.sh are stopped: a pid from a pid file is
# signalled only while its command line still names this lab's directory.
# Variables: LAB_DIR (default $OUT/lab).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

LAB_DIR=${LAB_DIR:-$OUT/lab}
if [ ! -d "$LAB_DIR" ]; then
	log lab all "no lab in $LAB_DIR: nothing to stop"
	exit 0
fi
LAB_DIR=$(cd "$LAB_DIR" && pwd)

# ours PIDFILE TEXT: the pid in PIDFILE, if that process is still one of
# ours (its command line contains TEXT).
ours() {
	local pf=$1 text=$2 pid
	[ -f "$pf" ] || return 1
	pid=$(cat "$pf")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$text" || return 1
	echo "$pid"
}

pids=()
for pf in "$LAB_DIR"/*/qemu.pid "$LAB_DIR/http.pid"; do
	[ -f "$pf" ] || continue
	# qemu's command line names its disk under $LAB_DIR; the HTTP server's
	# names the directory and port lab-fleet.sh recorded.
	text="$LAB_DIR/"
	what=$(basename "$(dirname "$pf")")
	if [ "${pf##*/}" = http.pid ]; then
		text="http.server --bind 127.0.0.1 --directory $(cat "$LAB_DIR/http.dir" 2>/dev/null) $(cat "$LAB_DIR/http.port" 2>/dev/null)"
		what=http
	fi
	if pid=$(ours "$pf" "$text"); then
		kill "$pid" 2>/dev/null || true
		pids+=("$pid")
		log lab "$what" "stopping pid $pid"
	fi
	rm -f "$pf"
done
# SIGTERM to all at once, then up to 10 s, then SIGKILL for what is left.
for _ in $(seq 100); do
	alive=0
	for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
	[ "$alive" = 1 ] || break
	sleep 0.1
done
for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
stopped=${#pids[@]}
rm -f "$LAB_DIR"/*/disk.qcow2 "$LAB_DIR"/*/vars.fd "$LAB_DIR/base.raw" "$LAB_DIR/inventory.ini" "$LAB_DIR/lab.json"
log lab all "lab down: $stopped process(es) stopped, disks removed (logs kept in $LAB_DIR)"
