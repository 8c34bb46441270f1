# shellcheck shell=bash
# The real kernel lines: pinned sources, the 5.10 backport, 6.1/6.12 proven
# upstream, and the patched 5.10 compiling without new warnings.

test_all_lines_source_and_patch() {
	make -s source patch KERNELS="5.10 6.1 6.12"
	for lts in 5.10 6.1 6.12; do
		[ -f "out/patched/$lts/.zc-series" ] || fail "no patched tree for $lts"
	done
}

test_pristine_5_10_lacks_the_fix() {
	run_rc rc scripts/verify-fix.sh out/src/5.10
	assert_eq 1 "$rc" "verify-fix on pristine 5.10"
	assert_contains "$out" "ABSENT"
	assert_contains "$out" "tcp_recvmsg_locked() is not defined"
}

test_patched_lines_have_the_fix() {
	for lts in 5.10 6.1 6.12; do
		run_rc rc scripts/verify-fix.sh "out/patched/$lts"
		assert_eq 0 "$rc" "verify-fix on patched $lts"
	done
	grep -q '^static int receive_fallback_to_copy(' out/patched/5.10/net/ipv4/tcp.c || fail "no receive_fallback_to_copy() in 5.10"
	grep -q '^static int tcp_recvmsg_locked(' out/patched/5.10/net/ipv4/tcp.c || fail "no tcp_recvmsg_locked() in 5.10"
}

test_6x_reported_as_upstream_proven() {
	for lts in 6.1 6.12; do
		rm -rf "out/patched/$lts"
		run_rc rc scripts/patch.sh "$lts"
		assert_eq 0 "$rc" "make patch KERNEL=$lts"
		assert_contains "$out" "already upstream, proven"
	done
}

test_5_10_series_applies_with_zero_fuzz_and_dep3_headers() {
	local p
	for p in $(grep -v '^#' patches/5.10/series); do
		for h in Description: Origin: Applied-Upstream: Backport-Notes: Author:; do
			grep -q "^$h" "patches/5.10/$p" || fail "$p lacks the DEP-3 header $h"
		done
		grep -q '^Origin: backport, https://git.kernel.org/linus/[0-9a-f]\{40\}$' "patches/5.10/$p" || fail "$p: Origin is not a backport of an upstream commit"
		grep -q '^Applied-Upstream: v5.11' "patches/5.10/$p" || fail "$p: Applied-Upstream is not v5.11"
	done
	cmp -s <(grep -v '^#' patches/5.10/series) <(cd patches/upstream && printf '%s\n' *.patch) ||
		fail "patches/upstream/ and patches/5.10/series do not name the same commits"
}

test_patched_5_10_compiles_without_new_warnings() {
	# make patch-check: pristine and patched built with W=1 in one tree;
	# net/ipv4/tcp.o must be rebuilt and bring no new warning.
	make -s patch-check KERNEL=5.10
	local pc=out/build/quick/5.10/patch-check.txt
	assert_contains "$(cat "$pc")" "net/ipv4/tcp.o"
	assert_contains "$(cat "$pc")" "new warnings: 0"
}
