# shellcheck shell=bash
# The promotion gate (scripts/gate.sh) on synthetic kernels: small fake
# packages and results made from real zc-smoke / zc-rpc-bench JSON of this
# machine, in a temporary OUT. No kernel is built.
#
# The gfx_* helpers are also used by tests/integration/test_promote.sh.

# gfx_setup: a temporary project OUT ($GFX/out, exported as OUT), with the
# real smoke.json and bench.json of this machine in $GFX/fixtures.
gfx_setup() {
	local bin="$TOP/out/bin"
	if [ ! -x "$bin/zc-smoke" ] || [ ! -x "$bin/zc-rpc-bench" ]; then make -s -C "$TOP" c-bins >/dev/null; fi
	GFX=$(mktemp -d /tmp/zc-gate-test.XXXXXX)
	# shellcheck disable=SC2064 # expand now: the trap must remove this very dir
	trap "gfx_cleanup '$GFX'" EXIT
	mkdir -p "$GFX/fixtures"
	"$bin/zc-smoke" --quiet --json "$GFX/fixtures/smoke.json" >/dev/null 2>&1 || true
	jq -e '.summary.fail == 0 and .summary.pass > 0' "$GFX/fixtures/smoke.json" >/dev/null 2>&1 ||
		skip "zc-smoke does not pass on this machine's kernel ($(uname -r)): the fixtures need a kernel with the fix"
	"$bin/zc-rpc-bench" --count 2000 --json "$GFX/fixtures/bench.json" >/dev/null
	export OUT="$GFX/out"
	mkdir -p "$OUT"
}

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

# gfx_kernel LTS KREL: packages (linux-image deb, kernel-zc rpm, KREL) and
# passing results for one synthetic kernel line. Uses the common zc-smoke deb.
gfx_kernel() {
	local lts=$1 krel=$2 p="$OUT/pkg/$1" r="$OUT/results/$1"
	local ver=${krel%-zc*} n=${krel##*-zc}
	mkdir -p "$p" "$r"
	gfx_deb "linux-image-$krel" "$ver-1+zc$n" "/boot/vmlinuz-$krel" "$p/deb"
	gfx_rpm kernel-zc "$ver" "1.zc$n" "/boot/vmlinuz-$krel" "$p/rpm"
	echo "$krel" >"$p/KREL"
	if [ ! -f "$OUT/pkg/common/deb/zc-smoke_1.0-1_amd64.deb" ]; then
		gfx_deb zc-smoke 1.0-1 /usr/bin/zc-smoke "$OUT/pkg/common/deb"
	fi
	jq --arg k "$krel" '.kernel = $k' "$GFX/fixtures/smoke.json" >"$r/smoke.json"
	jq --arg k "$krel" '.kernel = $k' "$GFX/fixtures/bench.json" >"$r/bench.json"
	jq -n --arg k "$lts" '{name: $k, verdict: "pass", exit_code: 0, reason: "all checks passed", seconds: 30, failing_checks: []}' >"$r/verdict.json"
	printf 'TAP version 13\n1..1\nok 1 struct_size\n' >"$r/smoke.tap"
	echo "@@ZC-KERNEL $krel" >"$r/console.log"
	gfx_record_tested "$lts"
}

# gfx_record_tested LTS: write tested-packages.json from what is in out/pkg now
# (what the boot stage does after the image was built).
gfx_record_tested() {
	local lts=$1 f
	for f in "$OUT"/pkg/"$lts"/*/*.deb "$OUT"/pkg/"$lts"/*/*.rpm "$OUT"/pkg/common/deb/*.deb; do
		[ -f "$f" ] || continue
		jq -n --arg f "out/${f#"$OUT"/}" --arg s "$(sha256sum "$f" | cut -d' ' -f1)" '{file: $f, sha256: $s}'
	done | jq -s . >"$OUT/results/$lts/tested-packages.json"
}

# gfx_make_control LTS: turn LTS's results into what the unpatched control
# kernel gives: the fast-path checks fail, the boot verdict is fail, and
# hybrid needs as many syscalls as zc (it falls back to recvmsg).
gfx_make_control() {
	local r="$OUT/results/$1"
	jq '.checks |= map(if (.name | test("^(inq_zero|copybuf|skip_hint)")) then
			.verdict = "fail" | .reason = "getsockopt returned -1 errno EINVAL" else . end)
		| .summary.fail = ([.checks[] | select(.verdict == "fail")] | length)
		| .summary.pass = ([.checks[] | select(.verdict == "pass")] | length)' "$r/smoke.json" >"$r/x" && mv "$r/x" "$r/smoke.json"
	jq '.modes |= map(if .mode == "hybrid" then .syscalls_per_rpc_excl_wait = 3 else . end)' "$r/bench.json" >"$r/x" && mv "$r/x" "$r/bench.json"
	jq '.verdict = "fail" | .exit_code = 1 | .reason = "zc-smoke exit 1; failing checks: inq_zero_v4 ..."' "$r/verdict.json" >"$r/x" && mv "$r/x" "$r/verdict.json"
}

# gfx_two_kernels: the standard passing setup, lines 9.9 and 9.8.
gfx_two_kernels() {
	gfx_setup
	gfx_kernel 9.9 9.9.9-zc1
	gfx_kernel 9.8 9.8.8-zc1
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
	# JUnit: per kernel, one testcase per smoke check + results, boot, bench, kernel-release, freshness.
	local checks
	checks=$(jq '.checks | length' "$GFX/fixtures/smoke.json")
	assert_eq $((2 * (checks + 5))) "$(grep -c '<testcase ' "$OUT/gate-junit.xml")" "JUnit testcases"
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
	flip_byte "$OUT/pkg/9.9/rpm/kernel-zc-9.9.9-1.zc1.x86_64.rpm" 200
	gate 9.9 9.8
	assert_gate_fails 9.9 freshness "kernel-zc-9.9.9-1.zc1.x86_64.rpm changed after the smoke test"
	assert_contains "$out" "stale"
	jq -e '.kernels[] | select(.name == "9.9") | .packages[] | select(.file | endswith(".rpm")) | .fresh == false' "$OUT/gate.json" >/dev/null ||
		fail "the changed rpm is not recorded as not fresh"
}

test_gate_fails_on_untested_or_removed_package() {
	gfx_two_kernels
	gfx_deb "linux-headers-9.8.8-zc1" "9.8.8-1+zc1" /usr/src/x "$OUT/pkg/9.8/deb"
	gate 9.9 9.8
	assert_gate_fails 9.8 freshness "linux-headers-9.8.8-zc1_9.8.8-1+zc1_amd64.deb was built but not tested"
	rm "$OUT/pkg/9.8/deb/linux-headers-9.8.8-zc1_9.8.8-1+zc1_amd64.deb" "$OUT/pkg/common/deb/zc-smoke_1.0-1_amd64.deb"
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
	gfx_kernel 9.9 9.9.9-zc1
	jq '.verdict = "timeout" | .reason = "no verdict within 300s"' "$OUT/results/9.9/verdict.json" >"$GFX/v" &&
		mv "$GFX/v" "$OUT/results/9.9/verdict.json"
	gate 9.9 9.8
	assert_gate_fails 9.9 boot "boot verdict 'timeout'"
}

test_gate_fails_when_hybrid_is_not_below_zc() {
	gfx_two_kernels
	jq '.modes |= map(if .mode == "hybrid" then .syscalls_per_rpc_excl_wait = 3 else . end)' \
		"$OUT/results/9.8/bench.json" >"$GFX/b" && mv "$GFX/b" "$OUT/results/9.8/bench.json"
	gate 9.9 9.8
	assert_gate_fails 9.8 bench "hybrid makes 3 syscalls per RPC, zc 3"
	assert_eq 1 "$(jq '[.kernels[].tests[] | select(.pass | not)] | length' "$OUT/gate.json")" "failing tests"
}

test_gate_fails_on_results_of_another_kernel() {
	gfx_two_kernels
	echo 9.8.8-zc2 >"$OUT/pkg/9.8/KREL"
	gate 9.9 9.8
	assert_gate_fails 9.8 kernel-release "the packages are 9.8.8-zc2 but the smoke test ran on '9.8.8-zc1'"
}

test_gate_fails_with_control_kernel() {
	gfx_two_kernels
	gfx_kernel control 9.9.9-zc0
	gfx_make_control control
	gate 9.9 9.8
	assert_eq 0 "$rc" "gate without the control ($out)"
	gate 9.9 9.8 control
	assert_gate_fails control check:inq_zero_v4 "control: check inq_zero_v4 fail"
	assert_gate_fails control boot "boot verdict 'fail'"
	assert_gate_fails control bench "hybrid makes 3 syscalls per RPC"
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
