# shellcheck shell=bash
# Faults and bad input (issue 13): missing tools, a full disk, killed and
# interrupted stages, fuzz, bad variables given to make, the exit-handler
# stack of lib.sh. Each test fails on the code before the fix.

# faults_fake [BIGFILE-KB]: a fake kernel line 9.9 (tests/lib/testlib.sh) in
# $W, optionally with a file of that many KiB of zeros in its tree (it
# compresses to nothing and unpacks to its size).
faults_fake() {
	W=$(mktemp -d)
	# shellcheck disable=SC2064 # this very directory
	trap "faults_cleanup '$W'" EXIT
	if [ -n "${1:-}" ]; then
		mkdir -p "$W/linux-source-9.9"
		head -c "$(($1 * 1024))" /dev/zero >"$W/linux-source-9.9/big.bin"
	fi
	fake_kernel_line "$W" 9.9
	export OUT="$W/out" CACHE_DIR="$W/cache" PATCHES_DIR="$W/patches"
}
faults_cleanup() {
	local m
	for m in $(findmnt -rn -o TARGET | grep "^$1/" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m"; done
	rm -rf "$1"
}

# path_without CMD...: a PATH with every command of this PATH but CMD.
path_without() {
	local d f b skip bin="$W/path-without"
	mkdir -p "$bin"
	IFS=: read -r -a dirs <<<"$PATH"
	for d in "${dirs[@]}"; do
		for f in "$d"/*; do
			b=${f##*/}
			[ -x "$f" ] && [ ! -e "$bin/$b" ] || continue
			skip=0
			for c in "$@"; do [ "$b" != "$c" ] || skip=1; done
			[ "$skip" = 1 ] || ln -s "$f" "$bin/$b"
		done
	done
	echo "$bin"
}

# small_fs DIR KB: a tmpfs of that size at DIR (needs root).
small_fs() {
	[ "$(id -u)" = 0 ] || skip "needs root (mounts a small tmpfs)"
	mkdir -p "$1"
	mount -t tmpfs -o "size=${2}k" zc-test-small "$1" || skip "cannot mount a tmpfs here"
}

test_faults_missing_tools_say_make_deps() {
	faults_fake
	local p
	p=$(path_without dpkg-deb)
	PATH=$p run_rc rc scripts/source.sh 9.9
	assert_eq 1 "$rc" "source without dpkg-deb"
	assert_contains "$out" "source: missing tools: dpkg-deb (package dpkg)"
	assert_contains "$out" "Run 'make deps'"
	assert_not_contains "$out" "check TARBALL=" "source without dpkg-deb"
	# make deps sees it too (a package may be installed with its binary gone).
	PATH=$p run_rc rc scripts/deps.sh --check
	assert_eq 1 "$rc" "deps.sh --check without dpkg-deb"
	assert_contains "$out" "missing command: dpkg-deb (package dpkg)"
	# patch without patch(1): the tool, not "refresh the patch".
	scripts/source.sh 9.9 2>/dev/null
	rm -rf "$W/path-without"
	p=$(path_without patch)
	PATH=$p run_rc rc scripts/patch.sh 9.9
	assert_eq 1 "$rc" "patch without patch(1)"
	assert_contains "$out" "patch: missing tools: patch (package patch)"
	assert_not_contains "$out" "Refresh the patch" "patch without patch(1)"
	PATH=$p run_rc rc scripts/deps.sh --check
	assert_contains "$out" "missing command: patch (package patch)"
	# Every tool a stage checks for is one deps.sh knows.
	local t
	for t in $(grep -hv '^\s*#' scripts/*.sh | grep -o 'need_tools [a-z]* [A-Za-z0-9_. -]*' | cut -d' ' -f3-); do
		# shellcheck disable=SC2016 # expanded by the inner bash
		bash -c '. scripts/lib.sh; [ -n "${ZC_TOOL_PKG[$1]:-}" ]' _ "$t" || fail "need_tools names $t, which ZC_TOOL_PKG (make deps) does not know"
	done
}

test_faults_full_disk_source() {
	faults_fake 4096
	small_fs "$OUT" 1024
	# Checked before anything is written: how much, where, what to do.
	run_rc rc scripts/source.sh 9.9
	assert_eq 1 "$rc" "source on a full disk"
	assert_contains "$out" "not enough disk space for unpacking usr/src/linux-source-9.9.tar.xz"
	assert_contains "$out" "in $OUT/src"
	assert_contains "$out" "set OUT="
	assert_eq "" "$(find "$OUT/src" -mindepth 1 -maxdepth 1 -name '.9.9.*')" "work directories left"
	# Without the check, the disk fills: one line says so, the half tree goes,
	# the stage is recorded as failed (a whole, valid record), summary works.
	ZC_NO_SPACE_CHECK=1 run_rc rc scripts/source.sh 9.9
	assert_eq 1 "$rc" "source filling the disk"
	assert_contains "$out" "no space left on device: unpacking usr/src/linux-source-9.9.tar.xz failed"
	[ "$(grep -c 'No space left on device' <<<"$out")" -le 1 ] || fail "more than one ENOSPC line: $out"
	[ "$(wc -l <<<"$out")" -le 12 ] || fail "a cascade of errors: $(wc -l <<<"$out") lines: $out"
	assert_eq "" "$(find "$OUT/src" -mindepth 1 -maxdepth 1 -name '.9.9.*')" "half trees left on the full disk"
	[ ! -e "$OUT/src/9.9" ] || fail "a tree was left in out/src/9.9"
	assert_contains "$(cat "$OUT/status/9.9/source")" "FAIL"
	run_rc rc scripts/summary.sh 9.9
	assert_contains "$out" "FAIL"
	assert_not_contains "$out" "unbound" "summary"
}

test_faults_status_files_atomic_and_summary_robust() {
	faults_fake
	mkdir -p "$OUT/status/9.9"
	printf 'ok\t5\tearlier\n' >"$OUT/status/9.9/source"
	# A status written on a full filesystem keeps the earlier record whole.
	small_fs "$OUT/status/9.9" 64
	printf 'ok\t5\tearlier\n' >"$OUT/status/9.9/source"
	head -c 1M /dev/zero >"$OUT/status/9.9/fill" 2>/dev/null || true
	# shellcheck disable=SC2016 # expanded by the inner bash
	run_rc rc bash -c 'set -euo pipefail; . scripts/lib.sh; stage_begin 9.9 source; stage_end ok "$(head -c 8000 /dev/zero | tr "\0" x)"; echo after' _
	assert_contains "$out" "after" "status_set on a full disk must not kill the stage"
	assert_contains "$out" "could not record the source stage of 9.9"
	assert_eq "$(printf 'ok\t5\tearlier')" "$(cat "$OUT/status/9.9/source")" "the earlier record"
	assert_eq "" "$(find "$OUT/status/9.9" -name '*.tmp.*')" "temporary records left"
	# summary: an empty record (an older version, a crash) is shown, not a crash.
	: >"$OUT/status/9.9/patch"
	run_rc rc scripts/summary.sh 9.9
	assert_contains "$out" "unreadable"
	assert_contains "$out" "ok 5s earlier"
}

test_faults_stale_work_dirs_are_removed() {
	faults_fake
	# What a kill -9 during an unpack and during a patch leaves behind.
	mkdir -p "$OUT/src/.9.9.dead01/tree" "$OUT/patched/.9.9.dead02/tree" "$OUT/src/.9.8.other"
	head -c 100k /dev/zero >"$OUT/src/.9.9.dead01/tree/half"
	run_rc rc scripts/source.sh 9.9
	assert_eq 0 "$rc" "source ($out)"
	assert_contains "$out" "removing $OUT/src/.9.9.dead01 (left by a 'make source KERNEL=9.9' that did not finish)"
	[ ! -e "$OUT/src/.9.9.dead01" ] || fail "the killed unpack's half tree is still there"
	[ -e "$OUT/src/.9.8.other" ] || fail "another line's work directory was removed"
	echo 'garbage' >"$PATCHES_DIR/9.9/series"
	run_rc rc scripts/patch.sh 9.9
	[ ! -e "$OUT/patched/.9.9.dead02" ] || fail "the killed patch's half tree is still there"
	assert_eq "" "$(find "$OUT/patched" -mindepth 1 -maxdepth 1 -name '.9.9.*')" "work directories after a failed patch"
}

test_faults_interrupted_stage_is_recorded() {
	faults_fake
	local p pid i
	# A slow unpack (xz held up), interrupted with SIGTERM (a background job
	# of a script ignores SIGINT; ^C in a terminal gives "interrupted by SIGINT").
	mkdir -p "$W/slow"
	printf '#!/bin/sh\n[ "$1" = --robot ] || sleep 30\nexec /usr/bin/xz "$@"\n' >"$W/slow/xz"
	chmod +x "$W/slow/xz"
	PATH="$W/slow:$PATH" setsid scripts/source.sh 9.9 >"$W/int.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do grep -q 'unpacking to' "$W/int.log" && break; sleep 0.1; done
	grep -q 'unpacking to' "$W/int.log" || fail "source did not reach the unpack: $(cat "$W/int.log")"
	kill -TERM -- "-$pid"
	wait "$pid" || true
	assert_contains "$(cat "$OUT/status/9.9/source")" "interrupted by SIGTERM"
	assert_not_contains "$(cat "$OUT/status/9.9/source")" "exit 0"
	assert_eq "" "$(find "$OUT/src" -mindepth 1 -maxdepth 1 -name '.9.9.*')" "work directories after ^C"
}

test_faults_exit_handlers_compose() {
	faults_fake
	mkdir -p "$W/d1"
	# shellcheck disable=SC2016 # expanded by the inner bash
	run_rc rc bash -c 'set -euo pipefail; . scripts/lib.sh
		zc_on_exit "echo first-registered"
		stage_begin 9.9 demo
		cleanup_on_exit "$1"
		zc_on_exit "echo broken-handler; false"
		zc_on_exit "echo last-registered"
		trap_before=$(trap -p EXIT)
		cleanup_on_exit "$1.other"
		[ "$trap_before" = "$(trap -p EXIT)" ] || echo "the trap was replaced"
		false' _ "$W/d1"
	assert_eq 1 "$rc" "exit code of the failing script"
	assert_eq "last-registered broken-handler first-registered" "$(grep -E 'registered|broken-handler$' <<<"$out" | tr '\n' ' ' | sed 's/ $//')" "handlers, last first"
	assert_not_contains "$out" "the trap was replaced"
	[ ! -e "$W/d1" ] || fail "the cleanup directory was not removed after a failing handler"
	assert_contains "$(cat "$OUT/status/9.9/demo")" "exit 1"
}

test_faults_patch_fuzz_and_missing_target() {
	faults_fake
	scripts/source.sh 9.9 2>/dev/null
	local a="$W/a" b="$W/b"
	mkdir -p "$a/net/ipv4" "$b/net/ipv4"
	cp "$OUT/src/9.9/net/ipv4/tcp.c" "$a/net/ipv4/"
	cp "$OUT/src/9.9/net/ipv4/tcp.c" "$b/net/ipv4/"
	sed -i '5a\/* added by the patch */' "$b/net/ipv4/tcp.c"
	(cd "$W" && diff -u a/net/ipv4/tcp.c b/net/ipv4/tcp.c) >"$PATCHES_DIR/9.9/0001-fuzzy.patch" || true
	# The source drifted in the patch's outermost context line: it applies
	# only with fuzz 1.
	sed -i '3s/$/ drift/' "$OUT/src/9.9/net/ipv4/tcp.c"
	patch --dry-run -s -d "$OUT/src/9.9" -p1 -F1 <"$PATCHES_DIR/9.9/0001-fuzzy.patch" >/dev/null ||
		fail "the test patch does not even apply with fuzz 1: the test proves nothing"
	echo 0001-fuzzy.patch >"$PATCHES_DIR/9.9/series"
	run_rc rc scripts/patch.sh 9.9
	assert_eq 1 "$rc" "a patch that needs fuzz"
	assert_contains "$out" "patch 1/1 does not apply"
	assert_contains "$out" "Hunk #1 FAILED"
	[ ! -e "$OUT/patched/9.9" ] || fail "a patched tree was written from a fuzzy patch"
	# A patch for a file the tree does not have: named.
	sed 's|net/ipv4/tcp.c|net/ipv4/nope.c|g' "$PATCHES_DIR/9.9/0001-fuzzy.patch" >"$PATCHES_DIR/9.9/0002-nofile.patch"
	echo 0002-nofile.patch >"$PATCHES_DIR/9.9/series"
	run_rc rc scripts/patch.sh 9.9
	assert_eq 1 "$rc" "a patch for a missing file"
	assert_contains "$out" "file net/ipv4/nope.c: does not exist in the tree"
}

test_faults_make_variables() {
	faults_fake
	mkdir -p "$W/a" "$W/a b"
	touch "$W/a/keep"
	run_rc rc make -s clean OUT="$W/a b"
	[ "$rc" != 0 ] || fail "make clean accepted OUT with a space"
	assert_contains "$out" "contains whitespace"
	[ -e "$W/a/keep" ] || fail "make clean OUT='$W/a b' removed $W/a"
	local bad
	for bad in "" / "$HOME" /usr "$TOP" .; do
		run_rc rc make -s -n clean OUT="$bad"
		[ "$rc" != 0 ] || fail "make accepted OUT='$bad'"
		assert_not_contains "$out" "rm -rf" "make clean OUT='$bad'"
	done
	run_rc rc make -s -n clean OUT=
	assert_contains "$out" "OUT= is empty"
	# A relative OUT is made absolute (the scripts run from other directories).
	out=$(make -n clean OUT=rel/out)
	assert_contains "$out" "rm -rf -- \"$TOP/rel/out\""
	# KERNEL= empty is an error, unset KERNEL means KERNELS.
	run_rc rc make -n source KERNEL=
	[ "$rc" != 0 ] || fail "make accepted KERNEL= (empty)"
	assert_contains "$out" "KERNEL= is empty"
	out=$(make -n source KERNELS="5.10 6.1")
	assert_contains "$out" "source.sh 5.10"
	assert_contains "$out" "source.sh 6.1"
	# A misspelt PROFILE is refused before any stage runs (nothing fetched).
	run_rc rc make -n kernel KERNEL=5.10 PROFILE=clod
	[ "$rc" != 0 ] || fail "make accepted PROFILE=clod"
	assert_contains "$out" "PROFILE=clod: unknown profile"
	assert_contains "$out" "cloud"
	assert_not_contains "$out" "source.sh" "make kernel PROFILE=clod"
	# V=2 is not silently quiet.
	run_rc rc make -n help V=2
	[ "$rc" != 0 ] || fail "make accepted V=2"
	assert_contains "$out" "V=2: use V=0"
	# Every path in the recipes is quoted.
	if grep -nE '^\s.*[^"]\$\((OUT|C_OUT|SCRIPTS)\)' Makefile mk/repo.mk | grep -v '@echo'; then
		fail "unquoted paths in the recipes above"
	fi
}
