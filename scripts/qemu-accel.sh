#!/usr/bin/env bash
# qemu-accel.sh [KERNEL]: print the qemu accelerator to use here, "kvm" or "tcg".
#
# /dev/kvm existing is not enough: on some hosts (nested virtualisation) guests
# hang under KVM. So KVM is proven by running a guest:
#  1. a 512-byte boot sector that writes "KVM-OK" to the serial port and leaves
#     through qemu's isa-debug-exit device (real mode only: it catches a KVM
#     that does not run anything);
#  2. then, with KERNEL (a bzImage), the kernel itself must print its banner
#     through earlyprintk within 10 s (measured here: the boot sector passes
#     under a broken nested KVM while a kernel prints nothing, so step 2 is the
#     real proof; under TCG the banner takes about 0.3 s).
# Without a working KVM the answer is TCG. It is cached in $OUT/qemu-accel
# for a day (only when proven with a kernel); QEMU_ACCEL=kvm|tcg forces one.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

kernel=${1:-}
if [ -n "${QEMU_ACCEL:-}" ]; then echo "$QEMU_ACCEL"; exit 0; fi
cache="$OUT/qemu-accel"
if [ -n "$(find "$cache" -mmin -1440 2>/dev/null)" ]; then cat "$cache"; exit 0; fi
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bootsector_probe() {
	local img="$tmp/probe.img" rc=0 outp c
	# mov dx,0x3f8; per byte: mov al,imm8; out dx,al
	# mov dx,0xf4; mov al,0x10; out dx,al (isa-debug-exit: qemu exits 33); hlt; jmp $-1
	{
		printf '\xba\xf8\x03'
		for c in K V M - O K; do printf '\xb0%b\xee' "$c"; done
		printf '\xb0\x0a\xee'
		printf '\xba\xf4\x00\xb0\x10\xee\xf4\xeb\xfd'
	} >"$img"
	truncate -s 510 "$img"
	printf '\x55\xaa' >>"$img"
	outp=$(timeout 10 qemu-system-x86_64 -accel kvm -nodefaults -display none -m 16 \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-drive file="$img",format=raw,if=ide </dev/null 2>&1) || rc=$?
	if [ "$rc" = 33 ] && [[ $outp == *KVM-OK* ]]; then return 0; fi
	why="/dev/kvm exists but a boot-sector guest did not run under KVM (qemu exit $rc)"
	return 1
}

kernel_probe() {
	local pid i
	qemu-system-x86_64 -accel kvm -nodefaults -display none -m 128 -no-reboot \
		-serial "file:$tmp/console" -kernel "$kernel" \
		-append "earlyprintk=serial,ttyS0,115200 console=ttyS0 panic=-1" </dev/null >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < 50; i++)); do
		if grep -qa 'Linux version' "$tmp/console" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	why="/dev/kvm exists, but $(basename "$kernel") printed nothing in 10 s under KVM (nested virtualisation?)"
	return 1
}

accel=tcg
why="no usable /dev/kvm"
if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] && bootsector_probe; then
	if [ -n "$kernel" ] && [ -f "$kernel" ]; then
		if kernel_probe; then accel=kvm why="a kernel booted under KVM"; fi
	else
		accel=kvm why="a boot-sector guest ran under KVM (no kernel given to prove more)"
	fi
fi
if [ -n "$kernel" ] || [ "$accel" = tcg ]; then echo "$accel" >"$cache"; fi
echo "qemu: using $accel: $why" >&2
echo "$accel"
