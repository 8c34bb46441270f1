# shellcheck shell=bash
# The promotion gate (scripts/gate.sh) on synthetic kernels: small fake
# packages and results in a temporary OUT. The results are fixtures made from
# what this checkout's zc-smoke declares (`zc-smoke --list`, every check
# passing) and a zc-rpc-bench result, never from the host kernel: the tests
# run the same on a host whose kernel lacks the fix. No kernel is built.
#
# The gfx_* helpers are also used by tests/integration/test_promote.sh.

# gfx_setup: a temporary project OUT ($GFX/out, exported as OUT), fixture
# smoke.json and bench.json in $GFX/fixtures, and a patches dir pinning the
# synthetic lines 9.9 and 9.8 (PATCHES_DIR). PROFILE defaults to smoke.
gfx_setup() {
	local bin="$TOP/out/bin" ver
	if [ ! -x "$bin/zc-smoke" ] || [ ! -x "$bin/zc-rpc-bench" ]; then make -s -C "$TOP" OUT="$TOP/out" c-bins >/dev/null; fi
	GFX=$(mktemp -d /tmp/zc-gate-test.XXXXXX)
	# shellcheck disable=SC2064 # expand now: the trap must remove this very dir
	trap "gfx_cleanup '$GFX'" EXIT
	mkdir -p "$GFX/fixtures"
	ver=$("$bin/zc-smoke" --version | awk '{ print $2 }')
	mapfile -t GFX_CHECKS < <("$bin/zc-smoke" --list)
	[ "${#GFX_CHECKS[@]}" -gt 0 ] || fail "zc-smoke --list printed nothing"
	jq -n --arg v "$ver" '{tool: "zc-smoke", version: $v, kernel: "fixture", machine: "x86_64",
		struct_size: 64, page_size: 4096, ipv6: true,
		checks: [$ARGS.positional[] | {name: ., verdict: "pass", ret: 0, errno: 0, reason: "fixture"}],
		summary: {pass: ($ARGS.positional | length), fail: 0, skip: 0}, exit: 0}' \
		--args "${GFX_CHECKS[@]}" >"$GFX/fixtures/smoke.json"
	mapfile -t GFX_CONFIGS < <("$bin/zc-rpc-bench" --suite ab --list)
	jq -n --arg v "$("$bin/zc-rpc-bench" --version | awk '{ print $2 }')" '{tool: "zc-rpc-bench", version: $v,
		kernel: "fixture", machine: "x86_64", size: 200, count: 2000, server: "thread", struct_size: 64, exit: 0,
		modes: [{mode: "recv", syscalls_per_rpc: 3, syscalls_per_rpc_excl_wait: 2, qps: 20000, qps_per_cpu_second: 80000},
			{mode: "zc", syscalls_per_rpc: 4, syscalls_per_rpc_excl_wait: 3, qps: 39000, qps_per_cpu_second: 72000},
			{mode: "hybrid", syscalls_per_rpc: 3, syscalls_per_rpc_excl_wait: 2, qps: 39500, qps_per_cpu_second: 78000}],
		suite: "ab", repeat: 10, warmup: 1,
		configs: [$ARGS.positional[] | {name: ., samples: [range(10) as $r | {round: $r, syscalls_per_rpc_excl_wait: 2,
			copy_failures_per_rpc: 0, getsockopt_errors_per_rpc: 0, qps: 20000}]}]}' \
		--args "${GFX_CONFIGS[@]}" >"$GFX/fixtures/bench.json"
	export OUT="$GFX/out" PATCHES_DIR="$GFX/patches" PROFILE=${PROFILE:-smoke}
	# The gate must not ask the archive in a unit test: a fresh, current
	# outdated.json for the synthetic lines (tests change it to make them stale).
	export GATE_RUN_OUTDATED=0
	mkdir -p "$OUT"
	gfx_line 9.9 9.9.9-1
	gfx_line 9.8 9.8.8-1
	gfx_outdated current
}

# gfx_line LTS VERSION: patches/LTS/source.conf pinning VERSION.
gfx_line() {
	mkdir -p "$PATCHES_DIR/$1"
	cat >"$PATCHES_DIR/$1/source.conf" <<-EOT
		PACKAGE=linux-source-$1
		SUITES=bookworm,bookworm-security
		VERSION=$2
		SUITE=bookworm
		DEB_SHA256=0000000000000000000000000000000000000000000000000000000000000000
		TARBALL=usr/src/linux-source-$1.tar.xz
		TARBALL_SHA256=0000000000000000000000000000000000000000000000000000000000000000
		ZC_REVISION=1
		ZC_DATE=2026-01-01
	EOT
	: >"$PATCHES_DIR/$1/series"
}

# gfx_outdated current|behind|error|old: out/outdated.json as scripts/outdated.sh
# writes it, for 9.9 and 9.8 (behind: 9.9 has a newer 9.9.9-3 and 9.9.9-2).
gfx_outdated() {
	local t
	t=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	[ "$1" != old ] || t=2000-01-01T00:00:00Z
	jq -n --arg t "$t" --arg how "$1" '{checked_at: $t, lines: [
		({lts: "9.9", package: "linux-source-9.9", suites: ["bookworm", "bookworm-security"], pinned: "9.9.9-1",
		  newest: "9.9.9-1", behind_by: 0, newer: [], status: "current", error: null}
		 | if $how == "behind" then .newest = "9.9.9-3" | .behind_by = 2 | .newer = ["9.9.9-3", "9.9.9-2"] | .status = "behind"
		   elif $how == "error" then .newest = null | .behind_by = null | .status = "error" | .error = "archive unreachable"
		   else . end),
		{lts: "9.8", package: "linux-source-9.8", suites: ["bookworm"], pinned: "9.8.8-1", newest: "9.8.8-1",
		 behind_by: 0, newer: [], status: "current", error: null}]}' >"$OUT/outdated.json"
}

# gfx_krel LTS [ZC]: the kernel release of the synthetic line in PROFILE.
gfx_krel() {
	local v
	local l=$1
	if grep -q '^SOURCE_LINE=' "$PATCHES_DIR/$l/source.conf" 2>/dev/null; then l=$(sed -n 's/^SOURCE_LINE=//p' "$PATCHES_DIR/$l/source.conf"); fi
	v=$(sed -n 's/^VERSION=//p' "$PATCHES_DIR/$l/source.conf" 2>/dev/null)
	echo "${v:-$1.0-1}-zc${2:-1}-$PROFILE"
}
# gfx_kid LTS: lib.sh's kid for PROFILE.
gfx_kid() { if [ "$PROFILE" = smoke ]; then echo "$1"; else echo "$1-$PROFILE"; fi; }
# gfx_debname LTS / gfx_rpmname LTS: the file names gfx_kernel gives them.
gfx_debname() { local k; k=$(gfx_krel "$1" "${2:-1}"); echo "linux-image-${k}_${k%-zc*}+zc${2:-1}_amd64.deb"; }
gfx_rpmname() { local k; k=$(gfx_krel "$1" "${2:-1}"); local v=${k%-zc*}; echo "kernel-zc-$PROFILE-${v%-*}-${v##*-}.zc${2:-1}.x86_64.rpm"; }

gfx_cleanup() {
	local d=$1
	local m
	[ -n "$d" ] && [ -d "$d" ] || return 0
	if [ -d "$d/out/keys/gnupg" ]; then gpgconf --homedir "$d/out/keys/gnupg" --kill all 2>/dev/null || true; fi
	# Unmount whatever a test mounted below (chroots), deepest first; never
	# remove a tree that still has a mount in it.
	for m in $(findmnt -rn -o TARGET | grep "^$d/" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
	if findmnt -rn -o TARGET | grep -q "^$d/"; then
		echo "warning: mounts left under $d, not removing it" >&2
		return 0
	fi
	rm -rf "$d"
}

# gfx_deb NAME VERSION FILE-IN-PACKAGE DEST-DIR [CONTENT]: a tiny binary package.
gfx_deb() {
	local name=$1 ver=$2 path=$3 dest=$4 content=${5:-$1 $2} root
	root=$(mktemp -d "$GFX/debroot.XXXXXX")
	mkdir -p "$root/DEBIAN" "$root/$(dirname "$path")" "$dest"
	printf '%s\n' "$content" >"$root/$path"
	cat >"$root/DEBIAN/control" <<-EOT
		Package: $name
		Version: $ver
		Architecture: amd64
		Maintainer: zc-kernel tests <test@example.org>
		Section: kernel
		Priority: optional
		Description: synthetic package for the zc-kernel repository tests
	EOT
	dpkg-deb -Zxz --root-owner-group --build "$root" "$dest/${name}_${ver}_amd64.deb" >/dev/null
	rm -rf "$root"
}

# gfx_rpm NAME VERSION RELEASE FILE-IN-PACKAGE DEST-DIR: a tiny binary rpm.
gfx_rpm() {
	local name=$1 ver=$2 rel=$3 path=$4 dest=$5 top
	top=$(mktemp -d "$GFX/rpmtop.XXXXXX")
	mkdir -p "$top/SPECS" "$dest"
	cat >"$top/SPECS/$name.spec" <<-EOT
		Name: $name
		Version: $ver
		Release: $rel
		Summary: synthetic package for the zc-kernel repository tests
		License: GPL-2.0-only
		BuildArch: x86_64
		AutoReqProv: no
		%description
		synthetic package for the zc-kernel repository tests
		%install
		mkdir -p %{buildroot}$(dirname "$path")
		echo '$name $ver-$rel' > %{buildroot}$path
		%files
		$path
	EOT
	rpmbuild --quiet -bb --define "_topdir $top" --define "_build_id_links none" \
		--define "_rpmdir $dest" --define "_rpmfilename %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm" \
		"$top/SPECS/$name.spec" >/dev/null 2>&1 || { rpmbuild -bb --define "_topdir $top" "$top/SPECS/$name.spec"; return 1; }
	rm -rf "$top"
}

# gfx_kernel LTS [ZC]: packages (linux-image deb, kernel-zc rpm, KREL) and
# passing results for one synthetic kernel line in PROFILE, under its kid.
# Uses the common zc-smoke deb.
gfx_kernel() {
	local lts=$1 n=${2:-1} krel kid p r ver
	krel=$(gfx_krel "$lts" "$n") kid=$(gfx_kid "$lts")
	p="$OUT/pkg/$kid" r="$OUT/results/$kid"
	ver=${krel%-zc*}
	mkdir -p "$p" "$r"
	gfx_deb "linux-image-$krel" "$ver+zc$n" "/boot/vmlinuz-$krel" "$p/deb"
	gfx_rpm "kernel-zc-$PROFILE" "${ver%-*}" "${ver##*-}.zc$n" "/boot/vmlinuz-$krel" "$p/rpm"
	echo "$krel" >"$p/KREL"
	if [ ! -f "$OUT/pkg/common/deb/zc-smoke_1.0-1_amd64.deb" ]; then
		gfx_deb zc-smoke 1.0-1 /usr/bin/zc-smoke "$OUT/pkg/common/deb"
	fi
	jq --arg k "$krel" '.kernel = $k' "$GFX/fixtures/smoke.json" >"$r/smoke.json"
	jq --arg k "$krel" '.kernel = $k' "$GFX/fixtures/bench.json" >"$r/bench.json"
	jq -n --arg k "$lts" '{name: $k, verdict: "pass", exit_code: 0, reason: "all checks passed", seconds: 30, failing_checks: [],
		splat: null, stress_exit: 0, selftests_exit: 0, lockcount_exit: 4}' >"$r/verdict.json"
	printf 'TAP version 13\n1..1\nok 1 struct_size\n' >"$r/smoke.tap"
	printf 'TAP version 13\n1..2\nok 1 pair_0\nok 2 total\n' >"$r/stress.tap"
	printf 'TAP version 13\n1..2\nok 1 tcp_mmap_v4\nok 2 tcp_mmap_v6\n' >"$r/selftests.tap"
	# A debug kernel has zc-lockcount's counts: 0 in each fast path.
	if grep -qsx 'LOCKCOUNT=required' "$TOP/packaging/configs/$PROFILE.profile"; then
		jq_edit "$r/verdict.json" '.lockcount_exit = 0'
		jq -n '{tool: "zc-lockcount", version: "1.1", calls_per_case: 200, exit: 0,
			cases: {inq_zero: {calls: 200, returned_0: 200, vma_lookups: 0, mmap_lock_read: 0, error: null},
				copybuf: {calls: 200, returned_0: 200, vma_lookups: 0, mmap_lock_read: 0, error: null},
				skip_hint: {calls: 200, returned_0: 200, vma_lookups: 0, mmap_lock_read: 0, error: null}}}' >"$r/lockcount.json"
	fi
	echo "@@ZC-KERNEL $krel" >"$r/console.log"
	# A fleet profile needs its ABI report (scripts/abi-check.sh): a kept ABI.
	if grep -qs '^ABI_FLAVOUR=' "$TOP/packaging/configs/$PROFILE.profile"; then
		jq -n --arg k "$krel" '{label: "fixture", reference_package: "linux-headers-9.9.9-fixture", reference_version: "9.9.9-1", krel: $k,
			counts: {reference: 3, ours: 4, added: 1, removed: 0, changed: 0, moved: 0}, verdict: "pass",
			added: ["new_sym"], removed: [], changed: [], moved: []}' >"$r/abi.json"
	fi
	gfx_record_tested "$lts"
}

# gfx_record_tested LTS: write tested-packages.json from what is in out/pkg now
# (what the boot stage does after the image was built).
gfx_record_tested() {
	local lts=$1 f kid
	kid=$(gfx_kid "$lts")
	for f in "$OUT"/pkg/"$kid"/*/*.deb "$OUT"/pkg/"$kid"/*/*.rpm "$OUT"/pkg/common/deb/*.deb; do
		[ -f "$f" ] || continue
		jq -n --arg f "out/${f#"$OUT"/}" --arg s "$(sha256sum "$f" | cut -d' ' -f1)" '{file: $f, sha256: $s}'
	done | jq -s . >"$OUT/results/$kid/tested-packages.json"
}

# gfx_make_control LTS: turn LTS's results into what the unpatched control
# kernel gives: the fast-path checks fail, the boot verdict is fail, and
# the benchmark's two-skb and foreign-address requests fall back to recvmsg.
gfx_make_control() {
	local r
	r="$OUT/results/$(gfx_kid "$1")"
	jq '.checks |= map(if (.name | test("^(inq_zero|copybuf|skip_hint)")) then
			.verdict = "fail" | .reason = "getsockopt returned -1 errno EINVAL" else . end)
		| .summary.fail = ([.checks[] | select(.verdict == "fail")] | length)
		| .summary.pass = ([.checks[] | select(.verdict == "pass")] | length)' "$r/smoke.json" >"$r/x" && mv "$r/x" "$r/smoke.json"
	jq '.modes |= map(if .mode == "hybrid" then .syscalls_per_rpc_excl_wait = 3 else . end)
		| .configs |= map(if .name == "hybrid-2skb" then .samples |= map(.copy_failures_per_rpc = 1 | .syscalls_per_rpc_excl_wait = 3)
			elif .name == "hybrid-foreign" then .samples |= map(.getsockopt_errors_per_rpc = 1 | .syscalls_per_rpc_excl_wait = 3)
			else . end)' "$r/bench.json" >"$r/x" && mv "$r/x" "$r/bench.json"
	jq '.verdict = "fail" | .exit_code = 1 | .reason = "zc-smoke exit 1; failing checks: inq_zero_v4 ..."' "$r/verdict.json" >"$r/x" && mv "$r/x" "$r/verdict.json"
}

# gfx_two_kernels: the standard passing setup, lines 9.9 and 9.8.
gfx_two_kernels() {
	gfx_setup
	gfx_kernel 9.9
	gfx_kernel 9.8
}

# gfx_control: the control line (borrows 9.9's source, revision 0) with the
# results of a kernel without the fix.
gfx_control() {
	mkdir -p "$PATCHES_DIR/control"
	printf 'SOURCE_LINE=9.9\nEXPECT_FIX=absent\nZC_REVISION=0\n' >"$PATCHES_DIR/control/source.conf"
	: >"$PATCHES_DIR/control/series"
	gfx_kernel control 0
	gfx_make_control control
}

gate() { run_rc rc "$TOP/scripts/gate.sh" "$@" >/dev/null; }

assert_gate_files_valid() {
	jq -e . "$OUT/gate.json" >/dev/null || fail "gate.json is not valid JSON"
	xmllint --noout "$OUT/gate-junit.xml" || fail "gate-junit.xml is not well-formed XML"
}

# assert_gate_fails KERNEL TEST NEEDLE: the gate failed, overall and for
# KERNEL, with TEST failing and NEEDLE in both the output and the record.
assert_gate_fails() {
	local k=$1 t=$2 needle=$3
	assert_eq 1 "$rc" "gate exit code"
	assert_contains "$out" "$k" "gate output"
	assert_contains "$out" "$needle" "gate output"
	assert_gate_files_valid
	assert_eq fail "$(jq -r .verdict "$OUT/gate.json")" "overall verdict"
	assert_eq fail "$(jq -r --arg k "$k" '.kernels[] | select(.name == $k) | .verdict' "$OUT/gate.json")" "verdict of $k"
	jq -e --arg k "$k" --arg t "$t" '.kernels[] | select(.name == $k) | .tests[] | select(.name == $t) | .pass == false' \
		"$OUT/gate.json" >/dev/null || fail "test '$t' of $k is not recorded as failed in gate.json"
	grep -q "<testcase classname=\"gate.$k\" name=\"$t\"><failure" "$OUT/gate-junit.xml" ||
		fail "no failing JUnit testcase gate.$k/$t"
}

test_gate_passes_on_good_results() {
	gfx_two_kernels
	gate 9.9 9.8
	assert_eq 0 "$rc" "gate exit code ($out)"
	assert_contains "$out" "PASS"
	assert_gate_files_valid
	jq -e '.verdict == "pass" and (.kernels | length == 2) and all(.kernels[]; .verdict == "pass")' "$OUT/gate.json" >/dev/null ||
		fail "gate.json: $(jq -c '{verdict, failed_kernels}' "$OUT/gate.json")"
	# Every tested package is recorded with the sha256 it has.
	local f s n=0
	while IFS=$'\t' read -r f s; do
		n=$((n + 1))
		assert_eq "$(sha256sum "$OUT/${f#out/}" | cut -d' ' -f1)" "$s" "recorded sha256 of $f"
	done < <(jq -r '.packages[] | [.file, .sha256] | @tsv' "$OUT/gate.json")
	assert_eq 5 "$n" "packages recorded (2 x deb + rpm, 1 common deb)"
	jq -e '.packages[] | select(.file | endswith("zc-smoke_1.0-1_amd64.deb")) | (.kernels | sort) == ["9.8", "9.9"]' "$OUT/gate.json" >/dev/null ||
		fail "the common package should be recorded as tested by both kernels"
	# JUnit: per kernel, one testcase per smoke check + results, required:smoke,
	# required:bench, boot, bench, kernel-release, freshness, profile, stress,
	# selftests.
	local checks
	checks=$(jq '.checks | length' "$GFX/fixtures/smoke.json")
	assert_eq $((2 * (checks + 10))) "$(grep -c '<testcase ' "$OUT/gate-junit.xml")" "JUnit testcases"
	assert_eq 0 "$(grep -c '<failure' "$OUT/gate-junit.xml" || true)" "JUnit failures"
	grep -q '<testcase classname="gate.9.8" name="check:inq_zero_v4"/>' "$OUT/gate-junit.xml" || fail "no JUnit testcase for 9.8 inq_zero_v4"
	grep -q '<testcase classname="gate.9.9" name="bench"/>' "$OUT/gate-junit.xml" || fail "no JUnit bench testcase"
	grep -q '<testcase classname="gate.9.9" name="freshness"/>' "$OUT/gate-junit.xml" || fail "no JUnit freshness testcase"
}

test_gate_fails_on_missing_results() {
	gfx_two_kernels
	rm "$OUT/results/9.8/bench.json"
	gate 9.9 9.8
	assert_gate_fails 9.8 results "missing bench.json"
	assert_gate_fails 9.8 bench "no benchmark"
	assert_eq pass "$(jq -r '.kernels[] | select(.name == "9.9") | .verdict' "$OUT/gate.json")" "9.9 is unaffected"
	# A kernel with no results at all.
	gate 9.9 9.8 9.7
	assert_gate_fails 9.7 results "no results for 9.7"
}

test_gate_fails_on_stale_package() {
	gfx_two_kernels
	# Rebuilt after the smoke ran: one byte differs.
	flip_byte "$OUT/pkg/9.9/rpm/$(gfx_rpmname 9.9)" 200
	gate 9.9 9.8
	assert_gate_fails 9.9 freshness "$(gfx_rpmname 9.9) changed after the smoke test"
	assert_contains "$out" "stale"
	jq -e '.kernels[] | select(.name == "9.9") | .packages[] | select(.file | endswith(".rpm")) | .fresh == false' "$OUT/gate.json" >/dev/null ||
		fail "the changed rpm is not recorded as not fresh"
}

test_gate_fails_on_untested_or_removed_package() {
	gfx_two_kernels
	gfx_deb "linux-headers-$(gfx_krel 9.8)" "9.8.8-1+zc1" /usr/src/x "$OUT/pkg/9.8/deb"
	gate 9.9 9.8
	assert_gate_fails 9.8 freshness "linux-headers-$(gfx_krel 9.8)_9.8.8-1+zc1_amd64.deb was built but not tested"
	rm "$OUT/pkg/9.8/deb/linux-headers-$(gfx_krel 9.8)_9.8.8-1+zc1_amd64.deb" "$OUT/pkg/common/deb/zc-smoke_1.0-1_amd64.deb"
	gate 9.9 9.8
	assert_gate_fails 9.9 freshness "zc-smoke_1.0-1_amd64.deb was tested but no longer exists"
	assert_gate_fails 9.8 freshness "zc-smoke_1.0-1_amd64.deb was tested but no longer exists"
}

test_gate_fails_on_failing_check() {
	gfx_two_kernels
	# The boot verdict says pass, but one check in smoke.json failed: the gate
	# reads the checks itself.
	jq '(.checks[] | select(.name == "copybuf_300_v6")) |= (.verdict = "fail" | .reason = "copybuf_len 0")' \
		"$OUT/results/9.9/smoke.json" >"$GFX/s" && mv "$GFX/s" "$OUT/results/9.9/smoke.json"
	gate 9.9 9.8
	assert_gate_fails 9.9 check:copybuf_300_v6 "check copybuf_300_v6 fail"
	assert_eq 1 "$(jq '[.kernels[].tests[] | select(.pass | not)] | length' "$OUT/gate.json")" "failing tests"
	# A skipped check is not a pass either.
	jq '(.checks[] | select(.name == "copybuf_300_v6")) |= (.verdict = "skip")' \
		"$OUT/results/9.9/smoke.json" >"$GFX/s" && mv "$GFX/s" "$OUT/results/9.9/smoke.json"
	gate 9.9 9.8
	assert_gate_fails 9.9 check:copybuf_300_v6 "check copybuf_300_v6 skip"
	# And a failed boot verdict alone fails the kernel.
	gfx_kernel 9.9
	jq '.verdict = "timeout" | .reason = "no verdict within 300s"' "$OUT/results/9.9/verdict.json" >"$GFX/v" &&
		mv "$GFX/v" "$OUT/results/9.9/verdict.json"
	gate 9.9 9.8
	assert_gate_fails 9.9 boot "boot verdict 'timeout'"
}

test_gate_fails_when_the_bench_takes_no_fast_path() {
	gfx_two_kernels
	# 9.8: two-skb requests are not copied (5.10 without the fix); 9.9: a
	# foreign address gets EINVAL in 3 of 10 runs, the median still 0: passes.
	jq '.configs |= map(if .name == "hybrid-2skb" then .samples |= map(.copy_failures_per_rpc = 1 | .syscalls_per_rpc_excl_wait = 3) else . end)' \
		"$OUT/results/9.8/bench.json" >"$GFX/b" && mv "$GFX/b" "$OUT/results/9.8/bench.json"
	jq '.configs |= map(if .name == "hybrid-foreign" then .samples |= map(if .round < 3 then .getsockopt_errors_per_rpc = 1 else . end) else . end)' \
		"$OUT/results/9.9/bench.json" >"$GFX/b" && mv "$GFX/b" "$OUT/results/9.9/bench.json"
	gate 9.9 9.8
	assert_gate_fails 9.8 bench "two-skb requests 1 copy failures and 3 syscalls per RPC (want 0 and 2)"
	assert_eq 1 "$(jq '[.kernels[].tests[] | select(.pass | not)] | length' "$OUT/gate.json")" "failing tests"
	jq -e '.kernels[] | select(.name == "9.8") | .bench.medians["hybrid-2skb"].copy_failures_per_rpc == 1' "$OUT/gate.json" >/dev/null ||
		fail "gate.json does not record the medians: $(jq -c '.kernels[0].bench' "$OUT/gate.json")"
	# a bench.json without the ab suite (an older zc-rpc-bench) is refused, named
	jq 'del(.configs)' "$OUT/results/9.9/bench.json" >"$GFX/b" && mv "$GFX/b" "$OUT/results/9.9/bench.json"
	gate 9.9
	assert_gate_fails 9.9 bench "has no hybrid-2skb and hybrid-foreign runs"
}

test_gate_fails_on_results_of_another_kernel() {
	gfx_two_kernels
	gfx_krel 9.8 2 >"$OUT/pkg/9.8/KREL"
	gate 9.9 9.8
	assert_gate_fails 9.8 kernel-release "the packages are $(gfx_krel 9.8 2) but the smoke test ran on '$(gfx_krel 9.8)'"
}

test_gate_fails_with_control_kernel() {
	gfx_two_kernels
	gfx_control
	gate 9.9 9.8
	assert_eq 0 "$rc" "gate without the control ($out)"
	gate 9.9 9.8 control
	assert_gate_fails control check:inq_zero_v4 "control: check inq_zero_v4 fail"
	assert_gate_fails control boot "boot verdict 'fail'"
	assert_gate_fails control bench "two-skb requests 1 copy failures and 3 syscalls per RPC"
	assert_eq '["control"]' "$(jq -c .failed_kernels "$OUT/gate.json")" "failed kernels"
	assert_contains "$out" "nothing may be promoted"
}

test_gate_invalid_json_and_bad_names() {
	gfx_two_kernels
	echo '{"checks": [' >"$OUT/results/9.9/smoke.json"
	gate 9.9 9.8
	assert_gate_fails 9.9 results "not valid JSON: smoke.json"
	run_rc rc "$TOP/scripts/gate.sh" "../etc"
	assert_eq 1 "$rc" "bad kernel name"
	assert_contains "$out" "bad kernel name"
	run_rc rc "$TOP/scripts/gate.sh"
	assert_eq 1 "$rc" "no kernels"
	assert_contains "$out" "no kernels given"
}

# --- issue 13: the required checks, wrong shapes; issues 10/11: outdated, profile --

# jq_edit FILE FILTER: edit a JSON file in place.
jq_edit() { jq "$2" "$1" >"$1.new" && mv "$1.new" "$1"; }

test_gate_manifest_matches_zc_smoke_list() {
	local bin="$TOP/out/bin" man="$TOP/tests/smoke/required-checks.txt" ver want got
	[ -x "$bin/zc-smoke" ] || make -s -C "$TOP" OUT="$TOP/out" c-bins >/dev/null
	ver=$("$bin/zc-smoke" --version | awk '{ print $2 }')
	# Every check this zc-smoke declares is required, and nothing else is.
	want=$("$bin/zc-smoke" --list | sort)
	got=$(awk -v v="$ver" '$1 == "smoke" { print $2, $3 }' "$man" | while read -r s n; do
		# SINCE or SINCE..UNTIL
		if dpkg --compare-versions "${s%%..*}" le "$ver" && { [[ $s != *..* ]] || dpkg --compare-versions "$ver" le "${s##*..}"; }; then
			echo "$n"
		fi
	done | sort)
	assert_eq "$want" "$got" "smoke checks of zc-smoke $ver (--list) and of $man"
	assert_eq "" "$(awk '$1 == "smoke" { print $3 }' "$man" | sort | uniq -d)" "checks listed twice in $man"
	# The bench configurations are those of zc-rpc-bench's ab suite.
	want=$("$bin/zc-rpc-bench" --suite ab --list | sort)
	got=$(awk '$1 == "bench" { print $3 }' "$man" | sort)
	assert_eq "$want" "$got" "bench configurations of zc-rpc-bench --suite ab --list and of $man"
	grep -qE '^minimum +smoke +[0-9]' "$man" || fail "$man has no minimum zc-smoke version"
}

test_gate_requires_every_check_of_the_manifest() {
	gfx_two_kernels
	# All fast-path checks gone (what an --only run or an older tool gives):
	# the remaining checks pass, the gate must still fail and name each one.
	local nfast nall
	nfast=$(jq '[.checks[].name | select(test("^(inq_zero|copybuf|skip_hint)"))] | length' "$OUT/results/9.9/smoke.json")
	nall=$(jq '.checks | length' "$OUT/results/9.9/smoke.json")
	[ "$nfast" -ge 18 ] || fail "only $nfast fast-path checks in the fixture"
	jq_edit "$OUT/results/9.9/smoke.json" '.checks |= map(select(.name | test("^(inq_zero|copybuf|skip_hint)") | not))
		| .summary.pass = (.checks | length)'
	gate 9.9 9.8
	assert_gate_fails 9.9 required:smoke "did not report $nfast of the $nall required smoke checks"
	local n
	for n in inq_zero_v4 inq_zero_v6 copybuf_300_v6 copybuf_two_sends_v4 skip_hint_4095_v6; do
		assert_contains "$out" "$n" "gate output naming the missing check $n"
	done
	jq -e --argjson n "$nfast" '.kernels[] | select(.name == "9.9") | .required.smoke.missing | length == $n' "$OUT/gate.json" >/dev/null ||
		fail "gate.json does not list the $nfast missing checks: $(jq -c '.kernels[0].required' "$OUT/gate.json")"
	assert_eq pass "$(jq -r '.kernels[] | select(.name == "9.8") | .verdict' "$OUT/gate.json")" "9.8 is unaffected"
	# One check missing (a truncated run).
	gfx_kernel 9.9
	jq_edit "$OUT/results/9.9/smoke.json" '.checks |= map(select(.name != "mmap_zerocopy"))'
	gate 9.9 9.8
	assert_gate_fails 9.9 required:smoke "did not report 1 of the"
	assert_contains "$out" "mmap_zerocopy"
	# A bench without one configuration of its ab suite.
	gfx_kernel 9.9
	jq_edit "$OUT/results/9.9/bench.json" '.configs |= map(select(.name != "hybrid-contend"))'
	gate 9.9 9.8
	assert_gate_fails 9.9 required:bench "did not report 1 of the ${#GFX_CONFIGS[@]} required bench checks: hybrid-contend"
	# An older zc-smoke than the manifest's minimum, and results of another tool.
	gfx_kernel 9.9
	jq_edit "$OUT/results/9.9/smoke.json" '.version = "0.9"'
	gate 9.9 9.8
	assert_gate_fails 9.9 required:smoke "comes from zc-smoke 0.9, older than the minimum"
	jq_edit "$OUT/results/9.9/smoke.json" '.version = "1.0" | .tool = "other"'
	gate 9.9 9.8
	assert_gate_fails 9.9 required:smoke "was not written by zc-smoke"
	# The set is the tested version's: a check added in a later version is
	# required of that version only.
	gfx_kernel 9.9
	cp "$TOP/tests/smoke/required-checks.txt" "$GFX/man.txt"
	echo "smoke 9.0 future_check" >>"$GFX/man.txt"
	ZC_REQUIRED_CHECKS=$GFX/man.txt gate 9.9 9.8
	assert_eq 0 "$rc" "gate of zc-smoke 1.0 results with a check required from 9.0 on ($out)"
	jq_edit "$OUT/results/9.9/smoke.json" '.version = "9.0"'
	ZC_REQUIRED_CHECKS=$GFX/man.txt gate 9.9 9.8
	assert_gate_fails 9.9 required:smoke "future_check"
}

test_gate_wrong_shape_json_writes_both_files() {
	gfx_two_kernels
	echo '[]' >"$OUT/results/9.9/verdict.json"
	gate 9.9 9.8
	assert_gate_fails 9.9 results "valid JSON of the wrong shape: verdict.json (array)"
	assert_gate_fails 9.9 boot "no boot verdict"
	assert_not_contains "$out" "jq: error" "gate output"
	gfx_kernel 9.9
	echo '{"checks": {"a": 1}}' >"$OUT/results/9.9/smoke.json"
	echo '"bench"' >"$OUT/results/9.9/bench.json"
	echo '{"file": 1}' >"$OUT/results/9.9/tested-packages.json"
	gate 9.9 9.8
	assert_gate_fails 9.9 results "smoke.json (object)"
	assert_contains "$out" "bench.json (string)"
	assert_gate_fails 9.9 freshness "is missing, invalid or empty"
	assert_not_contains "$out" "jq: error" "gate output"
	# Checks of the wrong types inside a well-formed list.
	gfx_kernel 9.9
	jq_edit "$OUT/results/9.9/smoke.json" '.checks[0].name = 5'
	jq_edit "$OUT/results/9.9/bench.json" '.modes = [1, 2]'
	gate 9.9 9.8
	assert_gate_fails 9.9 results "wrong shape"
	assert_not_contains "$out" "jq: error" "gate output"
	# A stale work directory of a killed gate is removed by the next one.
	mkdir "$OUT/.gate.dead1"
	gate 9.9 9.8
	[ ! -e "$OUT/.gate.dead1" ] || fail "the killed gate's work directory was left"
	assert_eq "" "$(find "$OUT" -maxdepth 1 -name '.gate.*')" "gate work directories after the gate"
}

test_gate_records_profile_and_outdated() {
	gfx_two_kernels
	gate 9.9 9.8
	assert_eq 0 "$rc" "gate ($out)"
	jq -e '.profile == "smoke" and .channels == "lab" and all(.kernels[]; .profile == "smoke" and .channels == "lab")' \
		"$OUT/gate.json" >/dev/null || fail "profile not recorded: $(jq -c '{profile, channels}' "$OUT/gate.json")"
	jq -e '.kernels[] | select(.name == "9.9") | .outdated | .pinned == "9.9.9-1" and .newest == "9.9.9-1"
		and .behind_by == 0 and .status == "current"' "$OUT/gate.json" >/dev/null ||
		fail "outdated of 9.9: $(jq -c '.kernels[0].outdated' "$OUT/gate.json")"
	assert_contains "$out" "profile smoke"
	# Behind: newest and behind_by, and the gate still passes (promote decides).
	gfx_outdated behind
	gate 9.9 9.8
	assert_eq 0 "$rc" "gate of a stale kernel ($out)"
	jq -e '.kernels[] | select(.name == "9.9") | .outdated | .newest == "9.9.9-3" and .behind_by == 2 and .status == "behind"
		and (.reason | contains("make refresh KERNEL=9.9"))' "$OUT/gate.json" >/dev/null ||
		fail "outdated of a stale 9.9: $(jq -c '.kernels[0].outdated' "$OUT/gate.json")"
	assert_contains "$out" "newest 9.9.9-3, 2 behind"
	# The pin moved on since the check: behind_by counts from the new pin.
	gfx_line 9.9 9.9.9-2
	gfx_kernel 9.9
	gate 9.9 9.8
	jq -e '.kernels[] | select(.name == "9.9") | .outdated | .pinned == "9.9.9-2" and .behind_by == 1' "$OUT/gate.json" >/dev/null ||
		fail "outdated after the pin moved: $(jq -c '.kernels[0].outdated' "$OUT/gate.json")"
	gfx_line 9.9 9.9.9-1
	gfx_kernel 9.9
	# The archive could not be asked: unknown, never current.
	gfx_outdated error
	gate 9.9 9.8
	jq -e '.kernels[] | select(.name == "9.9") | .outdated | .status == "unknown" and .newest == null
		and (.reason | contains("archive unreachable"))' "$OUT/gate.json" >/dev/null ||
		fail "outdated with the archive unreachable: $(jq -c '.kernels[0].outdated' "$OUT/gate.json")"
	# Too old, and nothing to refresh it: unknown.
	gfx_outdated old
	gate 9.9 9.8
	jq -e 'all(.kernels[]; .outdated.status == "unknown") and .outdated.fresh == false' "$OUT/gate.json" >/dev/null ||
		fail "an old outdated.json was trusted: $(jq -c '[.kernels[].outdated.status]' "$OUT/gate.json")"
	rm "$OUT/outdated.json"
	gate 9.9 9.8
	jq -e 'all(.kernels[]; .outdated.status == "unknown")' "$OUT/gate.json" >/dev/null || fail "no outdated.json read as known"
}

test_gate_runs_outdated_when_missing() {
	gfx_two_kernels
	rm -f "$OUT/outdated.json"
	# A scripts/outdated.sh that works: the gate runs it for the lines it gates.
	cat >"$GFX/outdated-ok.sh" <<-EOF
		#!/bin/bash
		echo "\$*" >"$GFX/outdated-args"
		. "$TOP/tests/lib/testlib.sh"; . "$TOP/tests/unit/test_gate.sh"
		gfx_outdated behind
		exit 3
	EOF
	chmod +x "$GFX/outdated-ok.sh"
	GATE_RUN_OUTDATED=1 GATE_OUTDATED_SCRIPT=$GFX/outdated-ok.sh gate 9.9 9.8
	assert_eq 0 "$rc" "gate ($out)"
	assert_eq "9.9 9.8" "$(cat "$GFX/outdated-args")" "lines given to outdated.sh"
	assert_contains "$out" "running scripts/outdated.sh"
	jq -e '.kernels[] | select(.name == "9.9") | .outdated.status == "behind"' "$OUT/gate.json" >/dev/null ||
		fail "the gate did not use what outdated.sh wrote: $(jq -c '.kernels[0].outdated' "$OUT/gate.json")"
	# One that cannot reach the archive (exit 2, nothing written): unknown.
	rm -f "$OUT/outdated.json"
	printf '#!/bin/sh\necho "archive unreachable" >&2\nexit 2\n' >"$GFX/outdated-bad.sh"
	chmod +x "$GFX/outdated-bad.sh"
	GATE_RUN_OUTDATED=1 GATE_OUTDATED_SCRIPT=$GFX/outdated-bad.sh gate 9.9 9.8
	jq -e 'all(.kernels[]; .outdated.status == "unknown") and (.outdated.source | contains("exit 2"))' "$OUT/gate.json" >/dev/null ||
		fail "an unreachable archive: $(jq -c '[.outdated, .kernels[0].outdated]' "$OUT/gate.json")"
}

test_gate_profile_of_the_packages() {
	gfx_two_kernels
	# Packages of another profile under this profile's name.
	sed -i 's/-smoke$/-cloud/' "$OUT/pkg/9.8/KREL"
	jq_edit "$OUT/results/9.8/smoke.json" ".kernel = \"$(cat "$OUT/pkg/9.8/KREL")\""
	jq_edit "$OUT/results/9.8/bench.json" ".kernel = \"$(cat "$OUT/pkg/9.8/KREL")\""
	gate 9.9 9.8
	assert_gate_fails 9.8 profile "not a build of profile smoke"
	# A fleet profile: results and packages under <lts>-cloud, channels fleet.
	PROFILE=cloud
	gfx_kernel 9.9
	PROFILE=cloud gate 9.9
	assert_eq 0 "$rc" "gate of the cloud build ($out)"
	jq -e '.profile == "cloud" and .channels == "fleet" and .kernels[0].name == "9.9-cloud"
		and (.packages | map(.file) | any(startswith("out/pkg/9.9-cloud/")))' "$OUT/gate.json" >/dev/null ||
		fail "gate.json of the cloud build: $(jq -c '{profile, channels, k: [.kernels[].name]}' "$OUT/gate.json")"
	PROFILE=nope gate 9.9
	assert_eq 1 "$rc" "unknown profile"
	assert_contains "$out" "unknown profile 'nope'"
}

# zc-stress and the selftests must have run in the image and passed; a debug
# kernel must show zc-lockcount's 0 in every fast path.
test_gate_requires_stress_selftests_and_debug_lockcount() {
	gfx_two_kernels
	jq_edit "$OUT/results/9.8/verdict.json" '.stress_exit = 1'
	printf 'TAP version 13\n1..1\n# pair 1: session 3 message 7: byte 12 is 0x41, expected 0x42\nnot ok 1 pair_1\n' >"$OUT/results/9.8/stress.tap"
	gate 9.9 9.8
	assert_gate_fails 9.8 stress "stress failed in the image (exit 1): not ok 1 pair_1"
	jq_edit "$OUT/results/9.8/verdict.json" '.stress_exit = 0 | del(.selftests_exit)'
	gate 9.9 9.8
	assert_gate_fails 9.8 selftests "selftests did not run in the image"
	jq_edit "$OUT/results/9.8/verdict.json" '.selftests_exit = 4'
	gate 9.9 9.8
	assert_gate_fails 9.8 selftests "selftests skipped everything"
	jq_edit "$OUT/results/9.8/verdict.json" '.selftests_exit = 0'
	gate 9.9 9.8
	assert_eq 0 "$rc" "both ran and passed ($out)"
	jq -e '.kernels[0].lockcount == null' "$OUT/gate.json" >/dev/null || fail "a smoke kernel needs no lock count"
	# debug: the counts are required and recorded
	PROFILE=debug
	gfx_kernel 9.9
	PROFILE=debug gate 9.9
	assert_eq 0 "$rc" "a debug kernel with 0 counts ($out)"
	jq -e '.kernels[0].lockcount.cases.copybuf.mmap_lock_read == 0' "$OUT/gate.json" >/dev/null ||
		fail "gate.json records no lock count: $(jq -c '.kernels[0].lockcount' "$OUT/gate.json")"
	jq_edit "$OUT/results/9.9-debug/lockcount.json" '.exit = 1 | .cases.skip_hint.vma_lookups = 200 | .cases.skip_hint.mmap_lock_read = 200'
	PROFILE=debug gate 9.9
	assert_gate_fails 9.9-debug lockcount "skip_hint 200 VMA lookups, 200 read locks in 200 calls"
	rm "$OUT/results/9.9-debug/lockcount.json"
	PROFILE=debug gate 9.9
	assert_gate_fails 9.9-debug lockcount "requires zc-lockcount's counts"
}

test_gate_fleet_profile_needs_the_abi_kept() {
	gfx_setup
	PROFILE=cloud
	gfx_kernel 9.9
	PROFILE=cloud gate 9.9
	assert_eq 0 "$rc" "gate of a cloud build with a kept ABI ($out)"
	assert_eq ok "$(cut -f1 "$OUT/status/9.9-cloud/gate")" "gate status record"
	jq -e '.kernels[0].abi.counts.removed == 0 and .kernels[0].abi.reference_package == "linux-headers-9.9.9-fixture"' \
		"$OUT/gate.json" >/dev/null || fail "gate.json records no ABI: $(jq -c '.kernels[0].abi' "$OUT/gate.json")"
	# a removed and a changed symbol: refused, each named
	jq_edit "$OUT/results/9.9-cloud/abi.json" '.counts.removed = 1 | .counts.changed = 1 | .verdict = "fail"
		| .removed = [{symbol: "tcp_recvmsg", crc: "0x1", module: "vmlinux", type: "EXPORT_SYMBOL", namespace: ""}]
		| .changed = [{symbol: "tcp_mmap", field: "crc", reference: "0x1", ours: "0x2", module: "vmlinux"}]'
	PROFILE=cloud gate 9.9
	assert_gate_fails 9.9-cloud abi "removed tcp_recvmsg, changed tcp_mmap (crc)"
	# the summary table's gate column: the kernel's record names the failed test
	assert_contains "$(cat "$OUT/status/9.9-cloud/gate")" "FAIL" "gate status record"
	assert_contains "$(cat "$OUT/status/9.9-cloud/gate")" "abi" "gate status record"
	# a report of another build (an older one): refused
	jq_edit "$OUT/results/9.9-cloud/abi.json" '.counts.removed = 0 | .counts.changed = 0 | .verdict = "pass" | .removed = [] | .changed = [] | .krel = "9.9.9-0-zc1-cloud"'
	PROFILE=cloud gate 9.9
	assert_gate_fails 9.9-cloud abi "is of 9.9.9-0-zc1-cloud, not of the packaged"
	# no report at all: refused, with the command that makes it
	rm "$OUT/results/9.9-cloud/abi.json"
	PROFILE=cloud gate 9.9
	assert_gate_fails 9.9-cloud abi "run 'make abi KERNEL=9.9 PROFILE=cloud'"
	# a test profile needs none
	PROFILE=smoke
	gfx_kernel 9.8
	gate 9.8
	assert_eq 0 "$rc" "gate of a smoke build without an ABI report ($out)"
}
