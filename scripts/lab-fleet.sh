#!/usr/bin/env bash
# lab-fleet.sh [N]: a lab fleet of N qemu VMs on this machine, to watch a
# whole rollout (make rollout) without any real host.
#
# Every VM boots the project's UEFI disk image of LAB_KERNEL (default
# "control": the unpatched 5.10 (-zc0), so the rollout target, the patched 5.10 (-zc1),
# is another kernel) through OVMF, on a qcow2 overlay of one private copy of
# the image (the image in out/images may be rebuilt meanwhile), with its own
# OVMF_VARS, virtio-rng, an i6300esb watchdog (qemu resets the VM when it
# fires: the rollout arms it across a trial kexec where the kernel has its
# driver), -smp 1, and ssh forwarded from 127.0.0.1:<port> only.
# Root's ssh key (generated once: $LAB_DIR/id_ed25519) goes in through the
# kernel command line (zc.authorized_keys=, see images/mkosi.extra/). The
# project's repositories ($LAB_REPO_DIR, default $OUT/repo) are served over
# HTTP on 127.0.0.1:$LAB_HTTP_PORT, which the VMs reach as 10.0.2.2 (qemu user
# networking). Writes:
#   $LAB_DIR/inventory.ini     the Ansible inventory (group "lab"), hosts in order
#   $LAB_DIR/lab.json          hosts, ports, pids, image, repository URL
#   $LAB_DIR/<host>/           console.log, qemu.log, qemu.pid, disk.qcow2, vars.fd
# `make lab-down` (scripts/lab-down.sh) stops everything and removes the disks.
#
# Variables: N (hosts, default 3), LAB_KERNEL=<line> (which out/images/<line>),
# LAB_DIR (default $OUT/lab), LAB_SSH_PORT (first host's port, default 2222),
# LAB_HTTP_PORT (default 8622), LAB_MEM (MiB per VM, default 896),
# LAB_BOOT_TIMEOUT (s until every VM answers ssh, default 600),
# LAB_REPO_DIR, QEMU_ACCEL=kvm|tcg.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

n=${1:-${N:-3}}
[[ $n =~ ^[1-9][0-9]?$ ]] || die "N must be a number of hosts between 1 and 99, not '$n'"
lab_kernel=${LAB_KERNEL:-control}
LAB_DIR=${LAB_DIR:-$OUT/lab}
ssh_port0=${LAB_SSH_PORT:-2222}
http_port=${LAB_HTTP_PORT:-8622}
mem=${LAB_MEM:-896}
boot_timeout=${LAB_BOOT_TIMEOUT:-600}
repo_dir=${LAB_REPO_DIR:-$OUT/repo}
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd

for t in qemu-system-x86_64 qemu-img ssh ssh-keygen python3 jq ss; do
	command -v "$t" >/dev/null || die "'$t' is missing: run 'make deps'"
done
for f in "$ovmf_code" "$ovmf_vars"; do [ -f "$f" ] || die "$f is missing: install ovmf (make deps)"; done

img_dir=$OUT/images/$lab_kernel
if [ ! -f "$img_dir/image.json" ]; then
	if [ "$lab_kernel" = control ]; then
		die "no control image in $img_dir: the lab boots the unpatched control kernel so that the rollout
target is a different kernel. Build it with 'make control' (or scripts/image.sh control once
out/pkg/control exists), or boot another line's image: LAB_KERNEL=6.1 make lab-fleet"
	fi
	die "no image in $img_dir: run 'make image KERNEL=$lab_kernel' (or choose LAB_KERNEL=<line> with an image)"
fi
image=$img_dir/$(jq -r .image "$img_dir/image.json")
lab_krel=$(jq -r .krel "$img_dir/image.json")
[ -f "$image" ] || die "$image is missing although $img_dir/image.json names it: run 'make image KERNEL=$lab_kernel'"

# --- one lab at a time per directory --------------------------------------------
running=()
for p in "$LAB_DIR"/*/qemu.pid "$LAB_DIR/http.pid"; do
	[ -f "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null && running+=("$p")
done
if [ "${#running[@]}" -gt 0 ]; then
	die "a lab fleet is already running in $LAB_DIR (${running[*]}): stop it first with 'make lab-down'"
fi
port_busy() { ss -Hltn "sport = :$1" | grep -q .; }
for ((i = 0; i < n; i++)); do
	port_busy $((ssh_port0 + i)) && die "127.0.0.1:$((ssh_port0 + i)) is already in use: choose another LAB_SSH_PORT (the lab uses $ssh_port0..$((ssh_port0 + n - 1)))"
done
port_busy "$http_port" && die "port $http_port is already in use: choose another LAB_HTTP_PORT"
[ -d "$repo_dir" ] || log lab all "note: no repository at $repo_dir yet (make promote); it is served anyway once it appears"

rm -rf "$LAB_DIR"/lab* "$LAB_DIR/inventory.ini" "$LAB_DIR/base.raw"
mkdir -p "$LAB_DIR"
# Half-started labs are stopped by lab-down.sh, which reads the pid files:
# on any failure from here on, stop what was started.
started=0
on_exit() {
	local rc=$?
	if [ "$rc" != 0 ] && [ "$started" = 1 ]; then
		log lab all "failed: stopping what was started (lab-down)"
		LAB_DIR=$LAB_DIR "$TOP/scripts/lab-down.sh" >&2 || true
	fi
	return "$rc"
}
trap on_exit EXIT

# --- key, repository server, base disk ------------------------------------------------
key=$LAB_DIR/id_ed25519
if [ ! -f "$key" ]; then
	ssh-keygen -q -t ed25519 -N '' -C "zc-kernel lab $(date -u +%F)" -f "$key"
	log lab all "generated the lab's ssh key $key"
fi
keys_b64=$(base64 -w0 "$key.pub")

started=1
mkdir -p "$repo_dir"
repo_dir=$(cd "$repo_dir" && pwd)
# 127.0.0.1 only: the VMs reach it as 10.0.2.2 through qemu's user network.
python3 -m http.server --bind 127.0.0.1 --directory "$repo_dir" "$http_port" \
	</dev/null >"$LAB_DIR/http.log" 2>&1 &
echo $! >"$LAB_DIR/http.pid"
echo "$repo_dir" >"$LAB_DIR/http.dir"
echo "$http_port" >"$LAB_DIR/http.port"
repo_url=http://10.0.2.2:$http_port

# One private copy of the image (sparse), the base of every VM's overlay: the
# lab keeps working when out/images is rebuilt underneath it.
cp --sparse=always "$image" "$LAB_DIR/base.raw"
accel=$("$TOP/scripts/qemu-accel.sh" "$img_dir/uki.linux")
log lab all "booting $n VM(s) of $(basename "$image") ($lab_krel) under $accel, ${mem} MiB each"

# --- the VMs --------------------------------------------------------------------------
hosts=()
for ((i = 1; i <= n; i++)); do
	h=lab$i
	hosts+=("$h")
	d=$LAB_DIR/$h
	rm -rf "$d"
	mkdir -p "$d"
	qemu-img create -q -f qcow2 -b "$LAB_DIR/base.raw" -F raw "$d/disk.qcow2"
	cp "$ovmf_vars" "$d/vars.fd"
	port=$((ssh_port0 + i - 1))
	echo "$port" >"$d/ssh.port"
	# -daemonize: qemu detaches once the VM is set up and writes its pid
	# file; the serial console goes to console.log.
	qemu-system-x86_64 -name "zc-$h" -machine q35 -accel "$accel" -m "$mem" -smp 1 \
		-nodefaults -display none -daemonize -pidfile "$d/qemu.pid" \
		-serial "file:$d/console.log" \
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf_code" \
		-drive "if=pflash,format=raw,unit=1,file=$d/vars.fd" \
		-drive "if=none,id=disk0,format=qcow2,file=$d/disk.qcow2" \
		-device virtio-blk-pci,drive=disk0,bootindex=0 \
		-device virtio-rng-pci \
		-device i6300esb \
		-netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" \
		-device virtio-net-pci,netdev=net0,romfile= \
		-smbios "type=11,value=io.systemd.stub.kernel-cmdline-extra=zc.authorized_keys=$keys_b64" \
		</dev/null >"$d/qemu.log" 2>&1 ||
		die "qemu did not start $h: $(tail -n 5 "$d/qemu.log")"
	log lab "$h" "started (pid $(cat "$d/qemu.pid"), ssh on 127.0.0.1:$port, console $d/console.log)"
done

# --- the inventory ----------------------------------------------------------------------
{
	cat <<-EOT
		# The zc-kernel lab fleet: written by scripts/lab-fleet.sh on $(date -u +%FT%TZ).
		# $n qemu VM(s) booted from $(basename "$image") (kernel $lab_krel); 'make lab-down' stops them.
		# Hosts in this order make the waves: the first one is the canary.
		[lab]
	EOT
	for ((i = 1; i <= n; i++)); do
		echo "lab$i ansible_host=127.0.0.1 ansible_port=$((ssh_port0 + i - 1))"
	done
	cat <<-EOT

		[lab:vars]
		ansible_user=root
		ansible_ssh_private_key_file=$key
		# LAB ONLY: every VM is a copy of one disk image and so shares its ssh
		# host keys (generated when the image was built), and every VM is
		# 127.0.0.1 on another port; so host keys are not checked here. Never
		# copy these options into the inventory of a real fleet.
		ansible_ssh_common_args=-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR
		# The project's repositories, served from this machine by lab-fleet.sh.
		zc_repo_url=$repo_url
	EOT
} >"$LAB_DIR/inventory.ini.tmp"
mv "$LAB_DIR/inventory.ini.tmp" "$LAB_DIR/inventory.ini"

# --- wait for ssh on every VM ------------------------------------------------------------
ssh_opts=(-i "$key" -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR
	-o ConnectTimeout=10 -o BatchMode=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=2)
t0=$SECONDS
declare -A up=()
while [ "${#up[@]}" -lt "$n" ]; do
	for h in "${hosts[@]}"; do
		[ -z "${up[$h]:-}" ] || continue
		d=$LAB_DIR/$h
		kill -0 "$(cat "$d/qemu.pid")" 2>/dev/null ||
			die "the VM $h stopped while booting: $(tail -n 5 "$d/qemu.log") (console: $d/console.log)"
		# The forwarded port accepts before sshd runs: the banner exchange
		# then times out, which ConnectTimeout bounds.
		if krel=$(timeout 20 ssh "${ssh_opts[@]}" -p "$(cat "$d/ssh.port")" root@127.0.0.1 uname -r 2>/dev/null); then
			up[$h]=$krel
			log lab "$h" "up after $((SECONDS - t0)) s: ssh works, running $krel"
		fi
	done
	[ "${#up[@]}" -lt "$n" ] || break
	if [ $((SECONDS - t0)) -ge "$boot_timeout" ]; then
		die "not every VM answered ssh within ${boot_timeout}s (up: ${!up[*]}); see $LAB_DIR/<host>/console.log (LAB_BOOT_TIMEOUT=<s> to wait longer)"
	fi
	sleep 3
done

jq -n --arg image "$(basename "$image")" --arg krel "$lab_krel" --arg accel "$accel" --arg repo "$repo_url" \
	--arg repo_dir "$repo_dir" --argjson http_port "$http_port" --argjson boot "$((SECONDS - t0))" \
	--arg key "$key" --argjson hosts "$(for h in "${hosts[@]}"; do
		jq -n --arg h "$h" --argjson p "$(cat "$LAB_DIR/$h/ssh.port")" --argjson pid "$(cat "$LAB_DIR/$h/qemu.pid")" \
			'{host: $h, ssh: "127.0.0.1:\($p)", pid: $pid}'
	done | jq -s .)" \
	'{image: $image, kernel: $krel, accel: $accel, repo_url: $repo, repo_dir: $repo_dir, http_port: $http_port,
	  ssh_key: $key, boot_seconds: $boot, hosts: $hosts}' >"$LAB_DIR/lab.json"
started=0
log lab all "lab fleet of $n up in $((SECONDS - t0)) s: inventory $LAB_DIR/inventory.ini, repository $repo_url -> $repo_dir"
echo "lab fleet: $n host(s) running $lab_krel; inventory $LAB_DIR/inventory.ini"
echo "next: make rollout (CHANNEL=stable KREL=$(cat "$OUT/pkg/5.10/KREL" 2>/dev/null || echo '<release>')), then make lab-down"
