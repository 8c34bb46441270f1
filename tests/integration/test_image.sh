# shellcheck shell=bash
# Images and their boot: the mkosi image of patched 5.10 boots under qemu and
# passes zc-smoke, so does the kernel inside its .rpm; the unpatched control
# boots and FAILS the fast paths; a timeout is a timeout, retried once.
# Each full boot is ~25 s under TCG; image builds ~30 s with warm caches.

# need_pkgs LTS: the line's packages, its selftests' included (every image
# carries them, as make image builds it), built (or found up to date) by make.
need_pkgs() {
	make -s deb rpm selftests-pkg KERNEL="$1" >/dev/null
}

# smoke_line LTS: build the image and boot it unless this run already did.
smoke_line() {
	local lts=$1
	scripts/image.sh "$lts"
	run_rc rc scripts/smoke.sh "$lts"
}

# krel LTS [PROFILE]: the kernel release the pins give.
krel() { bash -c '. scripts/lib.sh && expected_krel "$@"' _ "$@"; }

test_image_config_is_one_parameterised_config() {
	local s k
	k=$(krel 5.10)
	s=$(cd images && mkosi --image-id zc-5.10 --image-version "$k" --profile smoke summary 2>&1)
	assert_contains "$s" "linux-image-$k" "volatile packages of 5.10"
	assert_contains "$s" "zc-smoke"
	assert_contains "$s" "Bootloader: uki"
	assert_not_contains "$s" "linux-image-amd64"
	k=$(krel control)
	s=$(cd images && mkosi --image-id zc-control --image-version "$k" --profile smoke summary 2>&1)
	assert_contains "$s" "linux-image-$k" "volatile packages of the control"
	assert_contains "$s" "Hostname: zc-control"
	# one configuration: no per-kernel copies of it
	[ "$(find images -name 'mkosi.conf' | wc -l)" = 1 ] || fail "more than one mkosi.conf under images/"
}

test_image_5_10_boots_and_passes() {
	need_pkgs 5.10
	smoke_line 5.10
	assert_eq 0 "$rc" "smoke.sh 5.10 exit code"
	local r=out/results/5.10 krel f
	krel=$(cat out/pkg/5.10/KREL)
	jq -e '.verdict == "pass"' "$r/verdict.json" >/dev/null || fail "verdict: $(cat "$r/verdict.json")"
	assert_contains "$(cat "$r/console.log")" "@@ZC-KERNEL $krel@@" "console (uname -r)"
	for f in console.log smoke.tap smoke.json bench.json verdict.json boot.json tested-packages.json; do
		[ -s "$r/$f" ] || fail "$r/$f is missing or empty"
	done
	jq -e '.summary.fail == 0' "$r/smoke.json" >/dev/null || fail "smoke.json: $(jq -c .summary "$r/smoke.json")"
	# The shapes that tell the fix apart (Debian's 5.10 without it fails both):
	# a request in two skbs is copied, a foreign address is answered.
	scripts/stats.py summarize "$r/bench.json" -o "$r/bench-stats.test.json"
	jq -e '.configs["hybrid-2skb"].metrics.copy_failures_per_rpc.median == 0
	       and .configs["hybrid-2skb"].metrics.syscalls_per_rpc_excl_wait.median == 2
	       and .configs["hybrid-foreign"].metrics.getsockopt_errors_per_rpc.median == 0' "$r/bench-stats.test.json" >/dev/null ||
		fail "bench: the fast paths are not taken: $(jq -c '.configs | {s2: .["hybrid-2skb"].metrics.copy_failures_per_rpc.median, fo: .["hybrid-foreign"].metrics.getsockopt_errors_per_rpc.median}' "$r/bench-stats.test.json")"
	rm -f "$r/bench-stats.test.json"
	jq -e '(.accel == "tcg" or .accel == "kvm") and .boot_to_verdict_seconds > 0 and .retries == 0
	       and (.image | endswith(".raw")) and .image_bytes > 0' "$r/boot.json" >/dev/null ||
		fail "boot.json: $(cat "$r/boot.json")"
	# tested-packages.json: every package file of the line (its selftests'
	# too) and the common ones, right sums
	local want got
	want=$(find out/pkg/5.10/deb out/pkg/5.10/rpm out/pkg/5.10/selftests out/pkg/common/deb out/pkg/common/rpm -maxdepth 1 \
		-type f \( -name '*.deb' -o -name '*.rpm' \) 2>/dev/null | LC_ALL=C sort)
	got=$(jq -r '.[].file' "$r/tested-packages.json" | LC_ALL=C sort)
	assert_eq "$want" "$got" "files in tested-packages.json"
	jq -r '.[] | "\(.sha256)  \(.file)"' "$r/tested-packages.json" | sha256sum -c --quiet ||
		fail "a sha256 in tested-packages.json does not match its file"
	# the image file stays pristine: it was booted through a snapshot
	jq -e --arg s "$(stat -L -c %s out/images/5.10/image.raw)" '.image_bytes == ($s | tonumber)' "$r/boot.json" >/dev/null
}

test_image_rpm_kernel_5_10_boots_and_passes() {
	need_pkgs 5.10
	# test_image_5_10_boots_and_passes booted the image; the RPM's kernel has
	# the same bytes, so its boot was not repeated: the record says so.
	if [ ! -f out/results/5.10/rpm/verdict.json ]; then smoke_line 5.10; fi
	local r=out/results/5.10/rpm ks
	ks=$(rpm2cpio "$(find out/pkg/5.10/rpm -name 'kernel-zc5.10-*.x86_64.rpm' ! -name '*-devel-*' ! -name '*-debuginfo-*')" |
		(d=$(mktemp -d) && cd "$d" && cpio -idm --quiet "./lib/modules/*/vmlinuz" && sha256sum lib/modules/*/vmlinuz | cut -d' ' -f1 && rm -rf "$d"))
	jq -e --arg s "$ks" '.boot == "identical" and .same_bytes_as_deb_kernel and .kernel_sha256 == $s' "$r/boot.json" >/dev/null ||
		fail "the identical RPM kernel was booted again, or its record is wrong: $(cat "$r/boot.json")"
	jq -e '.verdict == "pass" and .booted == false' "$r/verdict.json" >/dev/null || fail "RPM kernel record: $(cat "$r/verdict.json")"
	# SMOKE_RPM=always boots it anyway: the direct boot of the RPM's kernel.
	SMOKE_RPM=always smoke_line 5.10
	assert_eq 0 "$rc" "smoke.sh 5.10 with SMOKE_RPM=always"
	jq -e '.verdict == "pass"' "$r/verdict.json" >/dev/null || fail "RPM kernel verdict: $(cat "$r/verdict.json")"
	jq -e '.boot == "direct" and (.rpm | test("kernel-zc[0-9.]+-[a-z0-9]+-.*\\.rpm$"))' "$r/boot.json" >/dev/null ||
		fail "rpm/boot.json: $(cat "$r/boot.json")"
	assert_contains "$(cat "$r/console.log")" "@@ZC-KERNEL $(cat out/pkg/5.10/KREL)@@" "RPM boot console"
	jq -e --arg f "$(jq -r .rpm "$r/boot.json")" 'map(.file) | index($f)' out/results/5.10/tested-packages.json >/dev/null ||
		fail "the booted rpm is not in tested-packages.json"
}

test_image_control_fails_the_fast_paths() {
	need_pkgs control
	smoke_line control
	assert_eq 1 "$rc" "smoke.sh control exit code (fail)"
	assert_not_contains "$out" "retrying" "smoke.sh control output (a fail is never retried)"
	jq -e '.verdict == "fail"' out/results/control/verdict.json >/dev/null
	local c
	for c in inq_zero copybuf skip_hint; do
		jq -e --arg c "$c" '[.failing_checks[] | startswith($c)] | any' out/results/control/verdict.json >/dev/null ||
			fail "no $c check failed on the control: $(jq -c .failing_checks out/results/control/verdict.json)"
	done
	run_rc rc scripts/smoke.sh --expect-control-fail
	assert_eq 0 "$rc" "--expect-control-fail"
	assert_contains "$out" "control: failed as expected"
}

test_image_timeout_is_a_timeout_retried_once() {
	need_pkgs 5.10
	[ -f out/images/5.10/image.json ] || scripts/image.sh 5.10
	# A private OUT: the real results of 5.10 stay untouched.
	local o
	o=$(mktemp -d)
	ln -s "$TOP/out/images" "$o/images"
	ln -s "$TOP/out/pkg" "$o/pkg"
	if [ -f out/qemu-accel ]; then cp out/qemu-accel "$o/qemu-accel"; fi
	run_rc rc env OUT="$o" SMOKE_TIMEOUT=5 SMOKE_RPM=no scripts/smoke.sh 5.10
	assert_eq 11 "$rc" "exit code of a boot that cannot finish in 5 s"
	assert_contains "$out" "retrying once"
	[ "$(grep -c ': booting' <<<"$out")" = 2 ] || fail "expected exactly 2 boots (1 retry), got:
$out"
	jq -e '.verdict == "timeout" and .exit_code == 11' "$o/results/5.10/verdict.json" >/dev/null ||
		fail "verdict.json: $(cat "$o/results/5.10/verdict.json")"
	jq -e '.retries == 1' "$o/results/5.10/boot.json" >/dev/null || fail "boot.json: $(cat "$o/results/5.10/boot.json")"
	rm -rf "$o"
}

test_image_expect_control_fail_accepts_only_the_fast_paths() {
	# unit level, no boot: the verdicts are written by hand
	local o
	o=$(mktemp -d)
	mkdir -p "$o/results/control"
	v() { jq -n --arg v "$1" --arg r "$2" --argjson f "$3" '{name: "control", verdict: $v, exit_code: 1, reason: $r, seconds: 1, failing_checks: $f, stress_exit: 0, selftests_exit: 0}' >"$o/results/control/verdict.json"; }
	v fail "zc-smoke exit 1; failing checks: ..." '["inq_zero_v4","copybuf_300_v4","skip_hint_300_v6"]'
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 0 "$rc" "control failing the three fast paths"
	v fail "zc-smoke exit 1; failing checks: ..." '["inq_zero_v4","copybuf_300_v4","skip_hint_300_v6","fin_eio"]'
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 0 "$rc" "control failing the three fast paths and fin_eio"
	assert_contains "$out" "control: failed as expected"
	v pass "all checks passed" '[]'
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a control that passes"
	assert_contains "$out" "NOT the expected failure"
	v fail "zc-smoke exit 1; failing checks: ..." '["inq_zero_v4","copybuf_300_v4","skip_hint_300_v6","mmap_zerocopy"]'
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a control failing a check outside the fast paths"
	assert_contains "$out" "mmap_zerocopy"
	v fail "zc-smoke exit 1; failing checks: ..." '["inq_zero_v4"]'
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a control failing only one of the three fast paths"
	v timeout "no verdict within 300s" '[]'
	run_rc rc env OUT="$o" scripts/smoke.sh --expect-control-fail
	assert_eq 1 "$rc" "a control that timed out"
	rm -rf "$o"
}
