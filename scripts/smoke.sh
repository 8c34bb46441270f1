#!/usr/bin/env bash
# smoke.sh LTS: boot the image of one kernel line (make image) in qemu with
# OVMF, let zc-smoke.service run zc-smoke and zc-rpc-bench, and turn the
# serial console into results (scripts/verdict.sh). Then boot the kernel
# inside the line's kernel-zc .rpm the same way (direct kernel boot, with the
# image's initrd and disk), so the RPM is proven bootable too; when its bytes
# are the image kernel's, that boot has already happened (SMOKE_RPM below).
#   $OUT/results/<lts>/      console.log smoke.tap smoke.json bench.json verdict.json
#                            boot.json tested-packages.json
#   $OUT/results/<lts>/rpm/  the same for the RPM's kernel, without the benchmark
# A line per PROGRESS_EVERY seconds (default 10) while a guest boots: the
# elapsed time and the phase its console shows (firmware, kernel, systemd,
# zc-smoke, zc-rpc-bench, verdict). --summary also writes bench-stats.json per
# line and $OUT/results/bench-ab.json (scripts/stats.py).
# Exit code: the verdict's (0 pass, 1 fail, 10 panic, 11 timeout, 12 no
# result); the image boot's, else the RPM boot's when that one is worse.
# A timeout is retried once; nothing else is.
#
#   smoke.sh --expect-control-fail  exit 0 only if the control failed the fast paths (make control)
#   smoke.sh --summary LTS...   the patched-against-control table of the
#                               results present, also in $OUT/results/bench-summary.txt
#
# Variables: SMOKE_TIMEOUT (seconds per boot, default 300 + 2 x SMOKE_STRESS,
# or the profile's SMOKE_TIMEOUT_BASE + SMOKE_TIMEOUT_PER_STRESS x SMOKE_STRESS:
# debug 900 + 4 x), SMOKE_RETRIES
# (retries after a timeout, default 1), SMOKE_BENCH_REPEAT (zc-rpc-bench runs
# per configuration, default 10, or the profile's: debug 3), SMOKE_RPM=auto|always|no (auto: boot
# the RPM's kernel when the line has one, unless it is byte-identical to the
# kernel the image booted, whose results then stand for it; always: boot it
# anyway; the RPM is required with the default package
# directories), QEMU_ACCEL=kvm|tcg (else scripts/qemu-accel.sh decides),
# SMOKE_MEM (MiB, default 1536), PKG_DIRS / RPM_DIRS / KREL as for image.sh.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=images/image-lib.sh
. "$TOP/images/image-lib.sh"

# --- the side-by-side table ---------------------------------------------------
# For every line with a bench.json: bench-stats.json (medians, 95 % intervals;
# scripts/stats.py), and for the control against the line it borrows its
# source from, $OUT/results/bench-ab.json (the gate's bench criterion).
# The syscall figures that tell the fix apart are those of the shapes 5.10
# handles differently: a request in 2 skbs (hybrid-2skb) and a foreign
# address (hybrid-foreign). Plain "hybrid" makes 2 syscalls per RPC on the
# control too, so it is not in the table.
summary() {
	# (per profile: bench-ab.json for smoke, bench-ab-<profile>.json for the others)
	local sfx="" lts f v row n=0 b base sumf ab
	[ "${PROFILE:-smoke}" = smoke ] || sfx="-$PROFILE"
	sumf="$OUT/results/bench-summary$sfx.txt" ab="$OUT/results/bench-ab$sfx.json"
	mkdir -p "$OUT/results"
	local s2 fo eff pn
	local fmt='%-8s %-16s %7s %11s %11s %26s %9s\n'
	for lts in "$@"; do
		f="$OUT/results/$(kid "$lts")"
		if [ -f "$f/bench.json" ] && jq -e '.configs | length > 0' "$f/bench.json" >/dev/null 2>&1; then
			"$TOP/scripts/stats.py" summarize "$f/bench.json" -o "$f/bench-stats.json" ||
				log smoke "$lts" "could not compute the statistics of $(relpath "$f/bench.json")"
		else
			rm -f "$f/bench-stats.json"
		fi
	done
	rm -f "$ab"
	base=$(sed -n 's/^SOURCE_LINE=//p' "$PATCHES_DIR/control/source.conf" 2>/dev/null || true)
	if [ -n "$base" ] && [ -f "$OUT/results/$(kid "$base")/bench-stats.json" ] && [ -f "$OUT/results/$(kid control)/bench-stats.json" ]; then
		"$TOP/scripts/stats.py" ab "$OUT/results/$(kid "$base")/bench.json" "$OUT/results/$(kid control)/bench.json" -o "$ab" ||
			log smoke control "could not compare the control's benchmark with $base's"
	fi
	{
		printf '%s\n' "zc-rpc-bench in each image: medians of the interleaved runs (syscalls per RPC without waits;" \
			"contention = hybrid p99 / recv p99 under an mmap_lock writer, [95 % interval]; poll = ns per empty call)"
		# shellcheck disable=SC2059
		printf "$fmt" kernel verdict boot_s "2skb_sc/rpc" "foreign_err" "contention_p99" "poll_ns"
		for lts in "$@"; do
			f="$OUT/results/$(kid "$lts")"
			[ -f "$f/verdict.json" ] || continue
			n=$((n + 1))
			v=$(jq -r .verdict "$f/verdict.json")
			if [ -f "$f/rpm/verdict.json" ]; then v="$v/rpm:$(jq -r .verdict "$f/rpm/verdict.json")"; fi
			b=$(jq -r '.boot_to_verdict_seconds // "-"' "$f/boot.json" 2>/dev/null || echo -)
			row="- - - -"
			if [ -f "$f/bench-stats.json" ]; then
				row=$(jq -r '
					def m(c; k): (.configs[c].metrics[k].median // null) | if . == null then "-" else (. * 1000 | round / 1000 | tostring) end;
					def e(k): (.effects[k] // null) | if . == null then "-" else
						"\(.median * 100 | round / 100)[\(.ci95[0] // 0 | . * 100 | round / 100),\(.ci95[1] // 0 | . * 100 | round / 100)]" end;
					[m("hybrid-2skb"; "syscalls_per_rpc_excl_wait"), m("hybrid-foreign"; "getsockopt_errors_per_rpc"),
					 e("contention_p99"), (.configs["poll-inq0"].metrics["empty_poll_ns"].median // null | if . == null then "-" else (. | round | tostring) end)] | join(" ")' "$f/bench-stats.json")
			fi
			read -r s2 fo eff pn <<<"$row"
			# shellcheck disable=SC2059
			printf "$fmt" "$(kid "$lts")" "$v" "$b" "$s2" "$fo" "$eff" "$pn"
		done
		if [ -f "$ab" ]; then
			jq -r '"\ncontrol against \(.patched.kernel): \(.criterion.reason)" +
				(if .criterion.decided then "" else " (undecided)" end)' "$ab"
		fi
	} >"$sumf.tmp"
	if [ "$n" = 0 ]; then rm -f "$sumf.tmp"; echo "smoke summary: no results yet (make smoke)"; return 0; fi
	mv "$sumf.tmp" "$sumf"
	cat "$sumf"
	printf '(also in %s%s)\n' "$(relpath "$sumf")" "$([ -f "$ab" ] && echo ", $(relpath "$ab")")"
}
if [ "${1:-}" = --summary ]; then
	shift
	summary "$@"
	exit 0
fi

# --- the control's expected failure ---------------------------------------------
# expect_control_fail: exit 0 when every boot of the control (image, and the
# RPM's kernel when booted) failed with failing checks all among the three
# fast paths (inq_zero*, copybuf*, skip_hint*), each of the three present,
# and the other checks whose answer comes from the fast paths: fin_eio and
# fin_data_copybuf (EIO at the end of stream, 936ced415751), rst_err (zc.err
# after a reset, with the skip hint) and abi_optlen_* (the fast paths with
# shorter structs): an unpatched kernel answers EINVAL in all of them. zc-stress
# and the selftests must have run and passed on the control (stress_exit and
# selftests_exit 0). In a profile with LOCKCOUNT=required (debug), zc-lockcount
# must count VMA lookups and mmap_lock read locks in every fast path (its
# baseline, no call, stays 0): that count above 0 is what the control is for.
expect_control_fail() {
	local d v why="" f n=0 fam
	d="$OUT/results/$(kid control)"
	[ -f "$d/verdict.json" ] || die "no control result ($d/verdict.json): did 'make smoke KERNEL=control' run?"
	for v in "$d/verdict.json" "$d/rpm/verdict.json"; do
		[ -f "$v" ] || continue
		# the record of an RPM kernel not booted again is the image boot's
		if jq -e '.booted == false' "$v" >/dev/null; then continue; fi
		n=$((n + 1))
		f=$(jq -r '.failing_checks | join(" ")' "$v")
		if [ "$(jq -r .verdict "$v")" != fail ]; then
			why+="$(relpath "$v"): verdict $(jq -r '.verdict + ": " + .reason' "$v"); "
		elif ! jq -e '.reason | startswith("zc-smoke exit")' "$v" >/dev/null; then
			why+="$(relpath "$v"): failed for another reason: $(jq -r .reason "$v"); "
		elif ! jq -e '[.failing_checks[] | test("^(inq_zero|copybuf|skip_hint|fin_eio|fin_data_copybuf|rst_err|abi_optlen)")] | all' "$v" >/dev/null; then
			why+="$(relpath "$v"): checks outside the fast paths failed too: $f; "
		elif ! jq -e '.stress_exit == 0 and .selftests_exit == 0' "$v" >/dev/null; then
			why+="$(relpath "$v"): zc-stress or the selftests did not run and pass on the control (stress_exit $(jq -r .stress_exit "$v"), selftests_exit $(jq -r .selftests_exit "$v")): $(jq -r .reason "$v"); "
		elif [ "${PROF_LOCKCOUNT:-}" = required ] && ! jq -e '[.cases | to_entries[] | select(.key != "baseline") | .value] | length >= 3 and all(.vma_lookups > 0 and .mmap_lock_read > 0)' "${v%verdict.json}lockcount.json" >/dev/null 2>&1; then
			why+="$(relpath "$v"): zc-lockcount did not count VMA lookups and mmap_lock read locks in every fast path of the control ($(jq -c '.cases // "no lockcount.json" | map_values({vma_lookups, mmap_lock_read})?' "${v%verdict.json}lockcount.json" 2>/dev/null || echo 'no lockcount.json')): the count cannot tell the fix apart; "
		else
			for fam in inq_zero copybuf skip_hint; do
				jq -e --arg p "$fam" '[.failing_checks[] | startswith($p)] | any' "$v" >/dev/null ||
					why+="$(relpath "$v"): no $fam check failed ($f); "
			done
		fi
	done
	if [ -n "$why" ]; then
		echo "control: NOT the expected failure: ${why%; }" >&2
		echo "The unpatched control must fail the inq_zero, copybuf and skip_hint checks (and may fail fin_eio, fin_data_copybuf, rst_err, abi_optlen_*), nothing else, and pass zc-stress and the selftests; a control that passes means the smoke test cannot see the fix." >&2
		exit 1
	fi
	echo "control: failed as expected ($n boot(s); failing: $(jq -r '.failing_checks | join(" ")' "$d/verdict.json"))"
}
if [ "${1:-}" = --expect-control-fail ]; then
	PROF_LOCKCOUNT=""
	parse_kv "$TOP/packaging/configs/${PROFILE:-smoke}.profile" PROF_
	expect_control_fail
	exit 0
fi

# --- one boot -----------------------------------------------------------------
# boot_phase CONSOLE: how far a guest got, from what its console shows so far.
boot_phase() {
	local c=$1
	if [ ! -s "$c" ]; then echo "firmware (no console output yet)"
	elif grep -aq '@@ZC-SMOKE-END@@' "$c"; then echo "verdict printed, powering off"
	elif grep -aq '@@ZC-PHASE zc-rpc-bench@@' "$c"; then echo "zc-rpc-bench running"
	elif grep -aq '@@ZC-PHASE zc-smoke@@' "$c"; then echo "zc-smoke running"
	elif grep -aqE 'Reached target .*(Basic System|Multi-User)' "$c"; then echo "systemd: $(sed 's/\x1b\[[0-9;]*m//g' "$c" | grep -aoE 'Reached target [^.]*' | tail -n1)"
	elif grep -aqE 'systemd\[1\]|Welcome to' "$c"; then echo "systemd starting"
	elif grep -aq 'Linux version' "$c"; then echo "kernel booting"
	elif grep -aq 'Shell> ' "$c"; then echo "UEFI shell: the firmware booted nothing ($(grep -a -m1 -oE 'Error starting [^\r]*|failed to start [^\r]*' "$c" | head -n1 | cut -c1-80))"
	else echo "firmware / boot loader"; fi
}

ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd

# boot_once RESDIR NAME MODE: one qemu boot, MODE "uki" (the disk image,
# firmware -> UKI) or "direct" (BOOT_KERNEL with the image's initrd and disk).
# Sets B_CODE, B_LINE (the verdict line), B_SECS (boot to verdict).
boot_once() {
	local res=$1 name=$2 mode=$3 qrc=0 pid t0 tv="" now booted last_p=$SECONDS
	local -a q
	mkdir -p "$res"
	rm -f "$res"/{console.log,qemu.log,smoke.tap,smoke.json,bench.json,verdict.json,boot.json}
	cp "$ovmf_vars" "$work/vars.fd"
	q=(qemu-system-x86_64 -machine q35 -accel "$accel" -m "${SMOKE_MEM:-1536}" -smp 2
		-nodefaults -display none -no-reboot -serial "file:$res/console.log"
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf_code"
		-drive "if=pflash,format=raw,unit=1,file=$work/vars.fd"
		# snapshot=on: the image file stays pristine (and its sha256 stable)
		-drive "if=none,id=disk0,format=raw,file=$image,snapshot=on"
		-device virtio-rng-pci
		# no option ROM: the firmware never tries a network boot
		-netdev "user,id=net0" -device "virtio-net-pci,netdev=net0,romfile=")
	if [ "$mode" = uki ]; then
		q+=(-device "virtio-blk-pci,drive=disk0,bootindex=0")
		# systemd-stub >= 254 appends this to the UKI's command line
		q+=(-smbios "type=11,value=io.systemd.stub.kernel-cmdline-extra=$smoke_args")
	else
		q+=(-device "virtio-blk-pci,drive=disk0")
		# The benchmark ran in the image's boot; this boot proves the RPM's kernel boots and passes zc-smoke.
		q+=(-kernel "$BOOT_KERNEL" -initrd "$img_dir/uki.initrd" -append "$(cat "$img_dir/uki.cmdline") $smoke_args zc.bench.repeat=0")
	fi
	run timeout --kill-after=10 "$timeout_s" "${q[@]}" </dev/null >"$res/qemu.log" 2>&1 &
	pid=$!
	t0=$(date +%s.%N)
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.5
		if [ $((SECONDS - last_p)) -ge "${PROGRESS_EVERY:-10}" ]; then
			last_p=$SECONDS
			log smoke "$lts" "$name: $(printf '%.0f' "$(echo "$(date +%s.%N) - $t0" | bc)")s, $(boot_phase "$res/console.log")"
		fi
		if [ -z "$tv" ] && grep -aq '@@ZC-SMOKE-END@@' "$res/console.log" 2>/dev/null; then
			tv=$(date +%s.%N)
		fi
		# the verdict is in: give the guest 30 s to power off, then stop it
		if [ -n "$tv" ]; then
			now=$(date +%s.%N)
			if [ "$(echo "$now - $tv > 30" | bc)" = 1 ]; then
				log smoke "$kid" "$name: the guest did not power off 30 s after its verdict; stopping qemu"
				kill "$pid" 2>/dev/null || true
			fi
		fi
	done
	wait "$pid" || qrc=$?
	[ -n "$tv" ] || tv=$(date +%s.%N)
	B_SECS=$(printf '%.1f' "$(echo "$tv - $t0" | bc)")
	# timeout(1) exits 137 when qemu outlived the TERM at the limit by the
	# 10 s grace (a loaded machine) and had to be killed: still a timeout
	if [ "$qrc" = 137 ] && [ "$(echo "$B_SECS >= $timeout_s" | bc)" = 1 ]; then qrc=124; fi
	if [ "$qrc" != 0 ] && [ "$qrc" != 124 ] && ! grep -aq . "$res/console.log" 2>/dev/null; then
		log smoke "$kid" "$name: qemu exited $qrc without any console output: $(tail -n 3 "$res/qemu.log" | tr '\n' ' ')"
	fi
	B_CODE=0
	B_LINE=$("$TOP/scripts/verdict.sh" "$res/console.log" "$res" "$name" "$qrc" "$B_SECS") || B_CODE=$?
	# The kernel that ran must be the one under test (verdict.sh does not know it).
	booted=$(grep -a -o '@@ZC-KERNEL [^@]*@@' "$res/console.log" | head -n1 | sed 's/^@@ZC-KERNEL //; s/@@$//' || true)
	if [ "$B_CODE" = 0 ] || [ "$B_CODE" = 1 ] || [ "$B_CODE" = 4 ]; then
		if [ "$booted" != "$KREL" ]; then
			B_CODE=1
			B_LINE="fail: the booted kernel is '${booted:-unknown}' (uname -r), expected $KREL"
			jq --arg r "${B_LINE#fail: }" '.verdict = "fail" | .exit_code = 1 | .reason = $r' \
				"$res/verdict.json" >"$res/verdict.json.tmp"
			mv "$res/verdict.json.tmp" "$res/verdict.json"
		fi
	fi
	# How it booted (zc-smoke-boot's @@ZC-BOOTINFO@@). A fleet kernel keeps its
	# disk driver in a module: it must have come up through its initramfs.
	B_INFO=$(grep -a -o '@@ZC-BOOTINFO {[^@]*}@@' "$res/console.log" | head -n1 | sed 's/^@@ZC-BOOTINFO //; s/@@$//' || true)
	jq -e . >/dev/null 2>&1 <<<"$B_INFO" || B_INFO=null
	if [ "$PROF_CHANNELS" = fleet ] && [ "$mode" = uki ] && { [ "$B_CODE" = 0 ] || [ "$B_CODE" = 1 ]; } &&
		! jq -e '.initrd == true and (.modules | split(" ") | index("virtio_blk"))' >/dev/null 2>&1 <<<"$B_INFO"; then
		B_CODE=1
		B_LINE="fail: the $PROFILE kernel did not come up through its initramfs with its disk driver as a module (boot info: $B_INFO)"
		jq --arg r "${B_LINE#fail: }" '.verdict = "fail" | .exit_code = 1 | .reason = $r' \
			"$res/verdict.json" >"$res/verdict.json.tmp"
		mv "$res/verdict.json.tmp" "$res/verdict.json"
	fi
}

# boot NAME RESDIR MODE: boot_once, and once more (SMOKE_RETRIES) on timeout
# only. Writes RESDIR/boot.json.
boot() {
	local name=$1 res=$2 mode=$3 tries=0
	while :; do
		log smoke "$kid" "$name: booting ($accel, timeout ${timeout_s}s)"
		boot_once "$res" "$name" "$mode"
		log smoke "$kid" "$name: $B_LINE (boot to verdict ${B_SECS}s, $accel)"
		[ "$B_CODE" = 11 ] && [ "$tries" -lt "${SMOKE_RETRIES:-1}" ] || break
		tries=$((tries + 1))
		log smoke "$kid" "$name: timed out; retrying once (a timeout may be the machine, a failure never is)"
	done
	jq -n --arg accel "$accel" --argjson s "$B_SECS" --argjson r "$tries" --arg image "$(relpath "$image")" \
		--argjson bytes "$(stat -L -c %s "$image")" --arg mode "$mode" \
		--arg kernel "$(relpath "${BOOT_KERNEL:-$img_dir/$name_base.efi}")" --argjson info "${B_INFO:-null}" \
		--arg profile "${PROFILE:-smoke}" \
		'{accel: $accel, boot_to_verdict_seconds: $s, retries: $r, image: $image, image_bytes: $bytes,
		  boot: $mode, kernel: $kernel, profile: $profile, bootinfo: $info}' >"$res/boot.json"
}

# --- the line -----------------------------------------------------------------
lts=${1:-}
load_conf "$lts"
kid=$(kid "$lts")
# A profile may say how slow its kernels are (debug: KASAN and lockdep).
PROF_CHANNELS="" PROF_SMOKE_TIMEOUT_BASE=300 PROF_SMOKE_TIMEOUT_PER_STRESS=2 PROF_SMOKE_BENCH_REPEAT=10
parse_kv "$TOP/packaging/configs/${PROFILE:-smoke}.profile" PROF_
image_pkg_dirs "$lts"
image_krel "$lts"
img_dir="$OUT/images/$kid"
[ -f "$img_dir/image.json" ] || die "no image for $lts in $img_dir: run 'make image KERNEL=$lts' first"
[ "$(jq -r .krel "$img_dir/image.json")" = "$KREL" ] ||
	die "the $lts image holds $(jq -r .krel "$img_dir/image.json"), but the packages are $KREL: run 'make image KERNEL=$lts'"
name_base="zc-${lts}_$KREL"
image="$img_dir/$name_base.raw"
[ -f "$image" ] && [ -f "$img_dir/uki.cmdline" ] || die "$img_dir is incomplete: run 'make image KERNEL=$lts'"
for f in "$ovmf_code" "$ovmf_vars"; do [ -f "$f" ] || die "$f is missing: install ovmf (make deps)"; done
# zc-stress after zc-smoke, SMOKE_STRESS seconds (0: not run).
stress_s=${SMOKE_STRESS:-60}
[[ $stress_s =~ ^[0-9]+$ ]] || die "SMOKE_STRESS must be a number of seconds, not '$stress_s'"
for v in PROF_SMOKE_TIMEOUT_BASE PROF_SMOKE_TIMEOUT_PER_STRESS PROF_SMOKE_BENCH_REPEAT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "packaging/configs/${PROFILE:-smoke}.profile: ${v#PROF_} must be a number, not '${!v}'"
done
timeout_s=${SMOKE_TIMEOUT:-$((PROF_SMOKE_TIMEOUT_BASE + PROF_SMOKE_TIMEOUT_PER_STRESS * stress_s))}
[[ $timeout_s =~ ^[0-9]+$ ]] && [ "$timeout_s" -gt 0 ] || die "SMOKE_TIMEOUT must be a number of seconds, not '$timeout_s'"
case ${SMOKE_RPM:-auto} in auto | always | no) ;; *) die "SMOKE_RPM must be auto, always or no, not '$SMOKE_RPM'" ;; esac
# oops=panic: an oops ends the boot at once (panic=-1 is in the image)
# zc-rpc-bench runs per configuration (the profile's SMOKE_BENCH_REPEAT).
bench_repeat=${SMOKE_BENCH_REPEAT:-$PROF_SMOKE_BENCH_REPEAT}
[[ $bench_repeat =~ ^[1-9][0-9]*$ ]] || die "SMOKE_BENCH_REPEAT must be a number of runs (1 or more), not '$bench_repeat'"
smoke_args="zc.smoke=1 oops=panic zc.stress=$stress_s zc.bench.repeat=$bench_repeat"

# The RPM's kernel, checked before anything boots.
rpm_kernel=""
if [ "${SMOKE_RPM:-auto}" != no ]; then
	rpm_kernel=$(image_rpm_files | grep -E '/kernel-zc[0-9.]+-[a-z0-9]+-[0-9][^/]*\.x86_64\.rpm$' | head -n1 || true)
	if [ -z "$rpm_kernel" ] && [ -z "${RPM_DIRS:-}" ]; then
		die "no kernel-zc<line>-<profile>-*.x86_64.rpm in ${RPM_DIRS_A[*]}: the RPM's kernel must boot too. Build the packages ('make package KERNEL=$lts'), or SMOKE_RPM=no to skip it."
	fi
fi

stage_begin "$kid" smoke
res="$OUT/results/$kid"
# A new boot starts from nothing, but the ABI report (abi-check.sh, the
# build's, made before the boot) stays: the gate reads it next to these.
if [ -d "$res" ]; then
	find "$res" -mindepth 1 -maxdepth 1 ! -name 'abi.json' ! -name 'abi.txt' ! -name 'debian.Module.symvers' -exec rm -rf {} +
fi
mkdir -p "$res"
work=$(mktemp -d)
cleanup_on_exit "$work"

# What is tested, recorded before anything boots: every package file of the
# line and the common ones (the .deb in the image, the .rpm booted, and their
# siblings, e.g. headers), with their sums.
{ image_deb_files; image_rpm_files; } | while read -r f; do
	jq -n --arg f "$(relpath "$f")" --arg s "$(sha256_of "$f")" '{file: $f, sha256: $s}'
done | jq -s . >"$res/tested-packages.json"
log smoke "$kid" "testing $KREL: $(jq length "$res/tested-packages.json") package file(s) recorded in $(relpath "$res/tested-packages.json")"

accel=$("$TOP/scripts/qemu-accel.sh" "$img_dir/uki.linux")
log smoke "$kid" "qemu accelerator: $accel (scripts/qemu-accel.sh; $( [ "$accel" = kvm ] && echo 'KVM runs guests here' || echo 'KVM unusable or absent: TCG'))"

BOOT_KERNEL=""
boot "$lts" "$res" uki
code=$B_CODE

if [ -n "$rpm_kernel" ]; then
	# The RPM carries the kernel in Fedora's layout (/lib/modules/KREL/vmlinuz).
	# It is booted directly (qemu -kernel, through OVMF) with the image's
	# initrd and disk: so its modules are the .deb's, installed in the image
	# (built from the same tree, but not assumed identical; only the kernel
	# image is the RPM's).
	(cd "$work" && rpm2cpio "$rpm_kernel" | cpio -idm --quiet "./lib/modules/$KREL/vmlinuz" "./boot/vmlinuz-$KREL") ||
		die "could not extract the kernel from $rpm_kernel"
	BOOT_KERNEL="$work/lib/modules/$KREL/vmlinuz"
	[ -f "$BOOT_KERNEL" ] || BOOT_KERNEL="$work/boot/vmlinuz-$KREL"
	[ -f "$BOOT_KERNEL" ] || die "$rpm_kernel has neither /lib/modules/$KREL/vmlinuz nor /boot/vmlinuz-$KREL"
	file -b "$BOOT_KERNEL" | grep -q "version $KREL " ||
		die "the kernel in $rpm_kernel is not $KREL: $(file -b "$BOOT_KERNEL" | cut -c1-120)"
	ksum=$(sha256_of "$BOOT_KERNEL")
	same=false
	if cmp -s "$BOOT_KERNEL" "$img_dir/uki.linux"; then same=true; fi
	if [ "$same" = true ] && [ "${SMOKE_RPM:-auto}" != always ]; then
		# The same bytes as the kernel the image just booted (with the same
		# initrd, disk and command line): a second boot would prove nothing
		# new. Its record is the image boot's, saying so.
		mkdir -p "$res/rpm"
		log smoke "$kid" "$lts-rpm: its kernel is byte-identical to the image's (sha256 ${ksum:0:16}...): the image boot stands for it, not booted again (SMOKE_RPM=always boots it)"
		jq --arg n "$lts-rpm" --arg s "$ksum" '.name = $n | .booted = false
			| .not_booted_because = "the same kernel bytes (sha256 \($s)) as the image boot, whose verdict this is"' \
			"$res/verdict.json" >"$res/rpm/verdict.json"
		jq '{accel, boot_to_verdict_seconds: 0, retries: 0, image, image_bytes, boot: "identical", profile}' \
			"$res/boot.json" >"$res/rpm/boot.json"
	else
		boot "$lts-rpm" "$res/rpm" direct
		if [ "$code" = 0 ]; then code=$B_CODE; fi
	fi
	jq --arg rpm "$(relpath "$rpm_kernel")" --arg s "$ksum" --argjson same "$same" \
		'.rpm = $rpm | .kernel = "\($rpm):/lib/modules/.../vmlinuz" | .kernel_sha256 = $s |
		 .same_bytes_as_deb_kernel = $same' "$res/rpm/boot.json" >"$res/rpm/boot.json.tmp"
	mv "$res/rpm/boot.json.tmp" "$res/rpm/boot.json"
elif [ "${SMOKE_RPM:-auto}" = no ]; then
	log smoke "$kid" "SMOKE_RPM=no: the RPM's kernel is not booted"
else
	log smoke "$kid" "no kernel-zc rpm in ${RPM_DIRS_A[*]:-RPM_DIRS=none}: the RPM's kernel is not booted"
fi

verdict=$(jq -r .verdict "$res/verdict.json")
rpmv=""
if [ -f "$res/rpm/verdict.json" ]; then
	rpmv=", rpm $(jq -r 'if .booted == false then "\(.verdict) (same kernel)" else .verdict end' "$res/rpm/verdict.json")"
fi
if [ "$code" = 0 ]; then
	stage_end ok "$verdict$rpmv $(jq -r .boot_to_verdict_seconds "$res/boot.json")s $accel"
else
	status_set "$kid" smoke FAIL $(($(date +%s) - _stage_t0)) "$verdict$rpmv"
	_stage_done=1
fi
exit "$code"
