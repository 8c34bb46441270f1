# shellcheck shell=bash
# Unit tests of scripts/patch.sh and scripts/verify-fix.sh on a fake tree.

setup_fake() {
	W=$(mktemp -d)
	# shellcheck disable=SC2064 # this very directory
	trap "rm -rf '$W'" EXIT
	fake_kernel_line "$W" 9.9
	export OUT="$W/out" CACHE_DIR="$W/cache" PATCHES_DIR="$W/patches"
	scripts/source.sh 9.9 2>/dev/null
	pristine_sum=$(cd "$OUT/src/9.9" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
}

# make_fix_patch NAME: a patch adding the whole short-circuit shape to the fake.
make_fix_patch() {
	local a="$W/a" b="$W/b"
	mkdir -p "$a/net/ipv4" "$b/net/ipv4"
	cp "$OUT/src/9.9/net/ipv4/tcp.c" "$a/net/ipv4/"
	python3 - "$a/net/ipv4/tcp.c" "$b/net/ipv4/tcp.c" <<'PY'
import sys
s = open(sys.argv[1]).read()
s = s.replace("/* A stand-in", """static int tcp_recvmsg_locked(struct sock *sk, struct msghdr *msg, size_t len)
{
	return 0;
}

static int receive_fallback_to_copy(struct sock *sk,
				    struct tcp_zerocopy_receive *zc, int inq)
{
	err = tcp_recvmsg_locked(sk, &msg, inq);
	zc->copybuf_len = err;
	tcp_zerocopy_set_hint_for_skb(sk, zc, skb, offset);
	return 0;
}

/* A stand-in""")
s = s.replace("""	sock_rps_record_flow(sk);
""", """	sock_rps_record_flow(sk);

	if (inq && inq <= copybuf_len)
		return receive_fallback_to_copy(sk, zc, inq);

	if (inq < PAGE_SIZE) {
		zc->length = 0;
		zc->recv_skip_hint = inq;
		return 0;
	}
""")
open(sys.argv[2], "w").write(s)
PY
	(cd "$W" && diff -u a/net/ipv4/tcp.c b/net/ipv4/tcp.c) >"$PATCHES_DIR/9.9/$1" || true
}

test_patch_applies_series_and_proves_fix() {
	setup_fake
	make_fix_patch 0001-fix.patch
	echo 0001-fix.patch >"$PATCHES_DIR/9.9/series"
	run_rc rc scripts/patch.sh 9.9
	assert_eq 0 "$rc" "exit code"
	assert_contains "$out" "backported (1 patches, revision 1), proven"
	grep -q receive_fallback_to_copy "$OUT/patched/9.9/net/ipv4/tcp.c" || fail "patch not applied"
	assert_contains "$(cat "$OUT/patched/9.9/.zc-series")" "ZC_REVISION=1"
	assert_contains "$(cat "$OUT/patched/9.9/.zc-series")" "PATCHES=0001-fix.patch"
	run_rc rc scripts/patch.sh 9.9
	assert_contains "$out" "cached"
}

test_patch_failure_names_hunk_and_leaves_pristine() {
	setup_fake
	make_fix_patch 0001-fix.patch
	# A second patch whose second hunk cannot apply.
	cat >"$PATCHES_DIR/9.9/0002-broken.patch" <<-'EOT'
		--- a/net/ipv4/tcp.c
		+++ b/net/ipv4/tcp.c
		@@ -1,3 +1,4 @@
		+/* first hunk applies */
		 /* A stand-in for net/ipv4/tcp.c in the unit tests: the shape of 5.10's
		  * tcp_zerocopy_receive() before the short-circuit series, nothing else. */
		 static int tcp_recvmsg_locked(struct sock *sk, struct msghdr *msg, size_t len)
		@@ -30,3 +31,4 @@
		 	this context
		 	does not exist
		+	anywhere
		 	in the file
	EOT
	printf '0001-fix.patch\n0002-broken.patch\n' >"$PATCHES_DIR/9.9/series"
	run_rc rc scripts/patch.sh 9.9
	[ "$rc" != 0 ] || fail "a patch that does not apply was accepted"
	assert_contains "$out" "patch 2/2 does not apply"
	assert_contains "$out" "0002-broken.patch"
	assert_contains "$out" "file net/ipv4/tcp.c: Hunk #2 FAILED"
	[ ! -e "$OUT/patched/9.9" ] || fail "a half-patched tree was left in out/patched/9.9"
	[ -z "$(find "$OUT/patched" -mindepth 1 -maxdepth 1)" ] || fail "leftovers: $(ls -A "$OUT/patched")"
	assert_eq "$pristine_sum" "$(cd "$OUT/src/9.9" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)" "pristine tree checksum"
}

test_patch_failure_keeps_earlier_patched_tree() {
	setup_fake
	make_fix_patch 0001-fix.patch
	echo 0001-fix.patch >"$PATCHES_DIR/9.9/series"
	scripts/patch.sh 9.9 2>/dev/null
	echo 'garbage' >"$PATCHES_DIR/9.9/0002-garbage.patch"
	printf '0001-fix.patch\n0002-garbage.patch\n' >"$PATCHES_DIR/9.9/series"
	run_rc rc scripts/patch.sh 9.9
	[ "$rc" != 0 ] || fail "a garbage patch was accepted"
	assert_contains "$(cat "$OUT/patched/9.9/.zc-series")" "PATCHES=0001-fix.patch" "earlier patched tree"
}

test_patch_empty_series_without_fix_fails_loudly() {
	setup_fake
	run_rc rc scripts/patch.sh 9.9
	[ "$rc" != 0 ] || fail "an empty series on a tree without the fix was accepted"
	assert_contains "$out" "was expected to carry the short-circuit upstream"
	assert_contains "$out" "receive_fallback_to_copy() is not defined"
	[ ! -e "$OUT/patched/9.9" ] || fail "a patched tree was written"
}

test_patch_series_naming_missing_file() {
	setup_fake
	echo 0001-nope.patch >"$PATCHES_DIR/9.9/series"
	run_rc rc scripts/patch.sh 9.9
	[ "$rc" != 0 ] || fail "accepted"
	assert_contains "$out" "names 0001-nope.patch, which does not exist"
}

test_patch_needs_source_first() {
	W=$(mktemp -d)
	# shellcheck disable=SC2064 # this very directory
	trap "rm -rf '$W'" EXIT
	fake_kernel_line "$W" 9.9
	run_rc rc env OUT="$W/out" PATCHES_DIR="$W/patches" scripts/patch.sh 9.9
	[ "$rc" != 0 ] || fail "accepted"
	assert_contains "$out" "run 'make source KERNEL=9.9' first"
}

test_verify_fix_wants_every_element() {
	# The real 5.10 tcp.c with the real series applied one patch at a time:
	# only the complete series is "present".
	local o=${OUT:-$TOP/out} n p
	local tcp="$o/src/5.10/net/ipv4/tcp.c"
	[ -f "$tcp" ] || make -s source KERNEL=5.10 OUT="$o" >/dev/null
	W=$(mktemp -d)
	# shellcheck disable=SC2064 # this very directory
	trap "rm -rf '$W'" EXIT
	mkdir -p "$W/net/ipv4"
	cp "$tcp" "$W/net/ipv4/tcp.c"
	n=0
	while read -r p; do
		run_rc rc scripts/verify-fix.sh "$W"
		assert_eq 1 "$rc" "verify-fix after $n of 4 patches"
		patch -s -d "$W" -p1 -F0 <"patches/5.10/$p"
		n=$((n + 1))
	done < <(grep -v '^#' patches/5.10/series)
	run_rc rc scripts/verify-fix.sh "$W"
	assert_eq 0 "$rc" "verify-fix after the whole series"
	assert_contains "$out" "PRESENT"
}
