# shellcheck shell=bash
# Unit tests of scripts/source.sh on a fake, tiny source package (no network).

setup_fake() {
	W=$(mktemp -d)
	# shellcheck disable=SC2064 # this very directory
	trap "rm -rf '$W'" EXIT
	fake_kernel_line "$W" 9.9
	export OUT="$W/out" CACHE_DIR="$W/cache" PATCHES_DIR="$W/patches"
}

test_source_unpacks_and_stamps() {
	setup_fake
	scripts/source.sh 9.9
	[ -f "$OUT/src/9.9/net/ipv4/tcp.c" ] || fail "tree not unpacked to out/src/9.9"
	assert_contains "$(cat "$OUT/src/9.9/.zc-source")" "linux-source-9.9 9.9.0-1"
}

test_source_second_run_is_cached() {
	setup_fake
	scripts/source.sh 9.9
	# No .deb at all now: a second run must not need to download or unpack.
	rm -f "$FAKE_DEB"
	touch -d '2000-01-01' "$OUT/src/9.9/Makefile"
	run_rc rc scripts/source.sh 9.9
	assert_eq 0 "$rc" "exit code"
	assert_contains "$out" "cached"
	assert_eq 946684800 "$(stat -c %Y "$OUT/src/9.9/Makefile")" "mtime (tree was not unpacked again)"
}

test_source_refuses_corrupted_cached_deb() {
	setup_fake
	flip_byte "$FAKE_DEB" 300
	run_rc rc scripts/source.sh 9.9
	[ "$rc" != 0 ] || fail "a corrupted .deb was accepted"
	assert_contains "$out" "sha256 mismatch"
	assert_contains "$out" "$FAKE_DEB"
	assert_contains "$out" "expected: $(grep DEB_SHA256 "$PATCHES_DIR/9.9/source.conf" | cut -d= -f2)"
	assert_contains "$out" "actual:   $(sha256sum "$FAKE_DEB" | cut -d' ' -f1)"
	[ ! -e "$OUT/src/9.9" ] || fail "a tree was unpacked from a corrupted .deb"
	[ -z "$(ls -A "$OUT/src")" ] || fail "leftovers in $OUT/src: $(ls -A "$OUT/src")"
}

test_source_mismatch_keeps_earlier_good_tree() {
	setup_fake
	scripts/source.sh 9.9
	echo marker >"$OUT/src/9.9/MARKER"
	# A new pin whose tarball sum is wrong: the stage must fail, old tree stays.
	sed -i 's/^TARBALL_SHA256=.*/TARBALL_SHA256=0000000000000000000000000000000000000000000000000000000000000000/' \
		"$PATCHES_DIR/9.9/source.conf"
	run_rc rc scripts/source.sh 9.9
	[ "$rc" != 0 ] || fail "a tarball with the wrong sum was accepted"
	assert_contains "$out" "kernel tarball"
	assert_contains "$out" "expected: 0000000000000000"
	assert_eq marker "$(cat "$OUT/src/9.9/MARKER")" "earlier tree"
	[ -z "$(find "$OUT/src" -maxdepth 1 -name '.9.9.*')" ] || fail "temporary directories left behind"
}

test_source_refuses_corrupted_real_deb() {
	# The real pinned 5.10 package, one byte flipped in a private copy.
	local real ver sum
	ver=$(sed -n 's/^VERSION=//p' patches/5.10/source.conf)
	sum=$(sed -n 's/^DEB_SHA256=//p' patches/5.10/source.conf)
	real="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zc-kernel}/debs/linux-source-5.10_${ver}_all.deb"
	[ -f "$real" ] || make -s source KERNEL=5.10 OUT="${OUT:-$TOP/out}" >/dev/null
	W=$(mktemp -d)
	# shellcheck disable=SC2064 # this very directory
	trap "rm -rf '$W'" EXIT
	mkdir -p "$W/cache/debs"
	cp "$real" "$W/cache/debs/"
	flip_byte "$W/cache/debs/$(basename "$real")" 1000000
	run_rc rc env OUT="$W/out" CACHE_DIR="$W/cache" scripts/source.sh 5.10
	[ "$rc" != 0 ] || fail "the corrupted linux-source-5.10 .deb was accepted"
	assert_contains "$out" "sha256 mismatch for linux-source-5.10 $ver (.deb)"
	assert_contains "$out" "expected: $sum"
}

test_source_conf_is_data_not_code() {
	setup_fake
	echo 'PACKAGE=$(touch /tmp/zc-pwned)' >>"$PATCHES_DIR/9.9/source.conf"
	echo 'not a key value line' >>"$PATCHES_DIR/9.9/source.conf"
	run_rc rc scripts/source.sh 9.9
	[ "$rc" != 0 ] || fail "a malformed source.conf was accepted"
	assert_contains "$out" "expected KEY=VALUE"
}

test_source_unknown_kernel_is_explained() {
	run_rc rc scripts/source.sh 4.4
	[ "$rc" != 0 ] || fail "unknown kernel accepted"
	assert_contains "$out" "unknown kernel '4.4'"
	assert_contains "$out" "known: 5.10 6.1 6.12 control"
}
