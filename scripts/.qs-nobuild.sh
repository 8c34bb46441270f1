#!/usr/bin/env bash
# quick-smoke.sh LTS TREE: boot the `quick` kernel of LTS built from TREE
# (patched or pristine) in qemu with a busybox initramfs that runs zc-smoke
# and then zc-stress for QUICK_STRESS seconds (default 60; 0 leaves it out)
# and the kernel's own selftests of the same tree (scripts/selftests.sh;
# QUICK_SELFTESTS=no leaves them out), and turn the console into results
# under $OUT/results/quick/<lts>-<tree>/.
# This is the cheap early proof (seconds under TCG); the packaged kernel in a
# real distro image is `make smoke`. Exit code: the verdict's (scripts/verdict.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-} tree=${2:-patched}
load_conf "$lts"
case "$tree" in patched | pristine) ;; *) die "TREE must be patched or pristine, not '$tree'" ;; esac
stress_s=${QUICK_STRESS:-60}
[[ $stress_s =~ ^[0-9]+$ ]] || die "QUICK_STRESS must be a number of seconds, not '$stress_s'"
timeout_s=${QUICK_TIMEOUT:-$((120 + 2 * stress_s))}
smoke_bin="$OUT/bin/zc-smoke" stress_bin="$OUT/bin/zc-stress"
[ -x "$smoke_bin" ] || die "$smoke_bin is missing: run 'make c-bins'"
[ -x "$stress_bin" ] || die "$stress_bin is missing: run 'make c-bins'"

image="$OUT/build/quick/$lts/bzImage-$tree"
if [ "$tree" = pristine ] && [ ! -f "$image" ]; then
	die "$lts has an empty series: its pristine and patched kernels are the same (use TREE=patched)"
fi
[ -f "$image" ] || die "no $image"

# The selftests of this tree go into a second cpio archive, appended to the
# shared one (the kernel unpacks concatenated archives in order).
selftests=""
if [ "${QUICK_SELFTESTS:-yes}" != no ]; then
	st="$OUT/selftests/$lts-$tree"
	if [ ! -f "$st/manifest.json" ] || [ "$TOP/scripts/selftests.sh" -nt "$st/manifest.json" ] ||
		[ "$TOP/tests/selftests/zc-selftests-run" -nt "$st/manifest.json" ]; then
		"$TOP/scripts/selftests.sh" "$lts" "$tree"
	fi
	selftests="$OUT/build/quick/selftests-$lts-$tree.cpio.gz"
	rm -rf "$st.cpio"
	mkdir -p "$st.cpio/selftests"
	cp "$st"/{zc-selftests-run,manifest.json} "$st.cpio/selftests/"
	for prog in tcp_mmap msg_zerocopy tcp_inq; do
		[ ! -f "$st/$prog" ] || cp "$st/$prog" "$st.cpio/selftests/"
	done
	(cd "$st.cpio" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9n) >"$selftests.tmp"
	mv "$selftests.tmp" "$selftests"
	rm -rf "$st.cpio"
fi

# The initramfs: static busybox, static zc-smoke, an init that runs it between
# markers and reboots (qemu -no-reboot turns that into an exit).
initrd="$OUT/build/quick/initramfs.cpio.gz"
stage="$OUT/build/quick/initramfs"
if [ ! -f "$initrd" ] || [ "$smoke_bin" -nt "$initrd" ] || [ "$stress_bin" -nt "$initrd" ] ||
	[ "$0" -nt "$initrd" ]; then
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,dev,proc,sys,tmp}
	cp /bin/busybox "$stage/bin/busybox"
	file -L "$stage/bin/busybox" 2>/dev/null | grep -q 'statically linked' ||
		die "/bin/busybox is not static: install busybox-static (make deps)"
	cp "$smoke_bin" "$stage/bin/zc-smoke"
	cp "$stress_bin" "$stage/bin/zc-stress"
	cat >"$stage/init" <<-'EOT'
		#!/bin/busybox sh
		/bin/busybox --install -s /bin
		mount -t proc proc /proc
		mount -t sysfs sysfs /sys
		mount -t devtmpfs devtmpfs /dev 2>/dev/null
		ip link set lo up
		echo "@@ZC-KERNEL $(uname -r)@@"
		echo "@@ZC-SMOKE-BEGIN@@"
		/bin/zc-smoke --json /tmp/smoke.json
		echo "@@ZC-SMOKE-EXIT $?@@"
		echo "@@ZC-JSON-BEGIN smoke@@"
		cat /tmp/smoke.json
		echo "@@ZC-JSON-END smoke@@"
		s=$(sed -n 's/.*zc_stress=\([0-9]*\).*/\1/p' /proc/cmdline)
		if [ "${s:-0}" -gt 0 ]; then
			echo "@@ZC-STRESS-BEGIN@@"
			/bin/zc-stress --duration "$s" --json /tmp/stress.json
			echo "@@ZC-STRESS-EXIT $?@@"
			echo "@@ZC-JSON-BEGIN stress@@"
			cat /tmp/stress.json
			echo "@@ZC-JSON-END stress@@"
		fi
		if [ -x /selftests/zc-selftests-run ]; then
			echo "@@ZC-SELFTESTS-BEGIN@@"
			/selftests/zc-selftests-run /selftests
			echo "@@ZC-SELFTESTS-EXIT $?@@"
		fi
		echo "@@ZC-SMOKE-END@@"
		reboot -f
	EOT
	chmod +x "$stage/init"
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9n) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
fi

boot_initrd="$initrd"
if [ -n "$selftests" ]; then
	boot_initrd="$OUT/build/quick/initramfs-$lts-$tree.cpio.gz"
	cat "$initrd" "$selftests" >"$boot_initrd.tmp"
	mv "$boot_initrd.tmp" "$boot_initrd"
fi

accel=$("$TOP/scripts/qemu-accel.sh" "$image")
res="$OUT/results/quick/$lts-$tree"
mkdir -p "$res"
log quick "$lts" "booting the $tree kernel ($accel, zc-stress ${stress_s}s, timeout ${timeout_s}s)"
t0=$(date +%s.%N)
qrc=0
timeout "$timeout_s" qemu-system-x86_64 -accel "$accel" -m 512 -smp 1 -nodefaults \
	-display none -no-reboot -serial "file:$res/console.log" \
	-kernel "$image" -initrd "$boot_initrd" \
	-append "console=ttyS0 panic=-1 oops=panic loglevel=4 zc_stress=$stress_s" </dev/null >"$res/qemu.log" 2>&1 || qrc=$?
secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
vrc=0
line=$("$TOP/scripts/verdict.sh" "$res/console.log" "$res" "$lts-$tree" "$qrc" "$secs") || vrc=$?
log quick "$lts" "$tree: $line (boot to verdict ${secs}s)"
exit "$vrc"
