# shellcheck shell=bash
# Tests of scripts/outdated.sh and scripts/refresh.sh against a local signed
# archive (tests/lib/fake-archive.sh): no network.
# shellcheck source=tests/lib/fake-archive.sh
. "$TOP/tests/lib/fake-archive.sh"

test_outdated_current_line_exits_0() {
	fa_setup
	run_rc rc scripts/outdated.sh 9.9
	assert_eq 0 "$rc" "exit code with the pin on the newest version"
	assert_contains "$out" "current"
	jq -e '.lines[0] | .lts == "9.9" and .status == "current" and .behind_by == 0 and .newest == "9.9.0-1"' \
		"$OUT/outdated.json" >/dev/null || fail "outdated.json: $(cat "$OUT/outdated.json")"
}

test_outdated_sees_newer_security_release() {
	fa_setup
	# (reprepro keeps one version per suite, as Debian's archive mostly does)
	fa_source_deb 9.9.1-1 "$TOP/tests/lib/tcp-fake-fixed.c"
	fa_publish fakesuite "$FA_DEB"
	fa_source_deb 9.9.2-1 "$TOP/tests/lib/tcp-fake-fixed.c"
	fa_publish fakesuite-security "$FA_DEB"
	run_rc rc scripts/outdated.sh 9.9
	assert_eq 3 "$rc" "exit code with a line behind"
	assert_contains "$out" "BEHIND by 2 release(s) of the archive (2 upstream stable release(s)): make refresh KERNEL=9.9"
	jq -e '.lines[0] | .status == "behind" and .behind_by == 2 and .stable_releases_behind == 2 and .newest == "9.9.2-1" and .pinned == "9.9.0-1"
		and .newer == ["9.9.2-1", "9.9.1-1"] and .suites == ["fakesuite", "fakesuite-security"]' \
		"$OUT/outdated.json" >/dev/null || fail "outdated.json: $(cat "$OUT/outdated.json")"
}

test_outdated_ignores_suites_the_line_does_not_name() {
	fa_setup
	printf 'Codename: othersuite\nComponents: main\nArchitectures: amd64\nSignWith: %s\n' "$FA_KEY" >>"$W/archive/conf/distributions"
	fa_source_deb 9.9.5-1 "$TOP/tests/lib/tcp-fake-fixed.c"
	fa_publish othersuite "$FA_DEB"
	run_rc rc scripts/outdated.sh 9.9
	assert_eq 0 "$rc" "a newer version in a suite the line does not name"
}

test_outdated_unreachable_archive_is_an_error_not_current() {
	fa_setup
	scripts/outdated.sh 9.9 >/dev/null # lists fetched once: they must not be trusted later
	export DEBIAN_MIRROR="http://127.0.0.1:9/debian" DEBIAN_SECURITY_MIRROR="http://127.0.0.1:9/debian-security"
	run_rc rc scripts/outdated.sh 9.9
	assert_eq 2 "$rc" "exit code with the archive unreachable"
	assert_contains "$(grep '^9.9 ' <<<"$out")" "ERROR: could not refresh the private apt lists"
	assert_not_contains "$(grep '^9.9 ' <<<"$out")" "current"
	jq -e '.lines[0] | .status == "error" and .behind_by == null and (.error | length > 0)' "$OUT/outdated.json" >/dev/null ||
		fail "outdated.json: $(cat "$OUT/outdated.json")"
}

test_outdated_bad_signature_is_an_error() {
	fa_setup
	# the archive is signed with a key apt is not given
	gpg --batch --passphrase '' --quick-generate-key 'other <o@zc-kernel.invalid>' ed25519 sign never 2>/dev/null
	gpg --batch --export "$(gpg --batch --with-colons --list-keys other | awk -F: '/^fpr:/ { print $10; exit }')" >"$W/other.gpg"
	export PAPT_KEYRING="$W/other.gpg"
	run_rc rc scripts/outdated.sh 9.9
	assert_eq 2 "$rc" "exit code with an archive whose signature does not verify"
}

test_refresh_moves_the_pin_and_reproves_the_fix() {
	fa_setup
	scripts/source.sh 9.9 >/dev/null 2>&1
	fa_source_deb 9.9.1-1 "$TOP/tests/lib/tcp-fake-fixed.c" 5
	fa_publish fakesuite-security "$FA_DEB"
	new_deb_sha=$(sha256sum "$FA_DEB" | cut -d' ' -f1) new_tar_sha=$FA_TAR_SHA
	fa_config_deb 9.9.1-1
	fa_publish fakesuite-security "$FA_DEB"
	cfg_sha=$(sha256sum "$FA_DEB" | cut -d' ' -f1)
	cp "$PATCHES_DIR/9.9/source.conf" "$W/conf.before"
	run_rc rc scripts/refresh.sh 9.9
	assert_eq 0 "$rc" "refresh exit code"
	c="$PATCHES_DIR/9.9/source.conf"
	assert_eq 9.9.1-1 "$(sed -n 's/^VERSION=//p' "$c")" "VERSION"
	assert_eq fakesuite-security "$(sed -n 's/^SUITE=//p' "$c")" "SUITE"
	assert_eq "$new_deb_sha" "$(sed -n 's/^DEB_SHA256=//p' "$c")" "DEB_SHA256"
	assert_eq "$new_tar_sha" "$(sed -n 's/^TARBALL_SHA256=//p' "$c")" "TARBALL_SHA256"
	assert_eq 9.9.1-1 "$(sed -n 's/^CONFIG_VERSION=//p' "$c")" "CONFIG_VERSION"
	assert_eq "$cfg_sha" "$(sed -n 's/^CONFIG_DEB_SHA256=//p' "$c")" "CONFIG_DEB_SHA256"
	assert_eq 1 "$(sed -n 's/^ZC_REVISION=//p' "$c")" "ZC_REVISION restarts on a new source"
	assert_eq "$(date -u +%F)" "$(sed -n 's/^ZC_DATE=//p' "$c")" "ZC_DATE"
	grep -q '^# a comment that must survive a refresh$' "$c" || fail "the comments of source.conf were lost"
	# the report: old and new version, the offset of the hunk, what to commit
	assert_contains "$out" "9.9.0-1 -> 9.9.1-1"
	assert_contains "$out" "0001-marker.patch net/ipv4/tcp.c hunk 1 offset 5"
	assert_contains "$out" "git add patches/9.9/source.conf patches/9.9/offsets.txt"
	# the changelog keeps the entry of the version left, on top
	assert_eq "9.9.0-1+zc3 2026-01-01" "$(head -n1 "$HISTORY_DIR/9.9")" "kept changelog entry"
	grep -q '^  Built from linux-source-9.9 9.9.0-1 (fakesuite).$' "$HISTORY_DIR/9.9" || fail "kept entry: $(cat "$HISTORY_DIR/9.9")"
	assert_contains "$out" "fix: PRESENT"
	grep -q '^0001-marker.patch net/ipv4/tcp.c hunk 1 offset 5$' "$PATCHES_DIR/9.9/offsets.txt" ||
		fail "offsets.txt: $(cat "$PATCHES_DIR/9.9/offsets.txt")"
	# the proven tree is the new pristine tree; the stages accept the new pins
	assert_contains "$(cat "$OUT/src/9.9/.zc-source")" "9.9.1-1"
	[ ! -e "$OUT/refresh/9.9" ] || fail "scratch work left in $OUT/refresh/9.9"
	run_rc rc scripts/source.sh 9.9
	assert_eq 0 "$rc" "source stage on the new pins"
	assert_contains "$out" "cached"
	run_rc rc scripts/patch.sh 9.9
	assert_eq 0 "$rc" "patch stage on the new pins"
	# and now the line is current
	run_rc rc scripts/outdated.sh 9.9
	assert_eq 0 "$rc" "outdated after the refresh"
}

test_refresh_changed_context_names_hunk_and_changes_nothing() {
	fa_setup
	scripts/source.sh 9.9 >/dev/null 2>&1
	before=$(sha256sum "$PATCHES_DIR/9.9/source.conf")
	src_before=$(cat "$OUT/src/9.9/.zc-source")
	# 9.9.1-1 rewrote the context of the series' hunk
	sed 's/zc->length = 0;/zc->length = 0; \/\* changed upstream \*\//' "$TOP/tests/lib/tcp-fake-fixed.c" >"$W/changed.c"
	fa_source_deb 9.9.1-1 "$W/changed.c"
	fa_publish fakesuite-security "$FA_DEB"
	run_rc rc scripts/refresh.sh 9.9
	[ "$rc" != 0 ] || fail "refresh accepted a series that no longer applies"
	assert_contains "$out" "patch 1/1 no longer applies to linux-source-9.9 9.9.1-1"
	assert_contains "$out" "0001-marker.patch"
	assert_contains "$out" "file net/ipv4/tcp.c: Hunk #1 FAILED at 29"
	assert_contains "$out" "Rejected hunks: $OUT/refresh/9.9/0001-marker.rej"
	[ -s "$OUT/refresh/9.9/0001-marker.rej" ] || fail "no rejected hunk saved"
	assert_eq "$before" "$(sha256sum "$PATCHES_DIR/9.9/source.conf")" "source.conf (must be byte-identical)"
	assert_eq "$src_before" "$(cat "$OUT/src/9.9/.zc-source")" "the pristine tree"
	[ ! -e "$PATCHES_DIR/9.9/offsets.txt" ] || fail "offsets.txt written by a failed refresh"
}

test_refresh_new_code_without_the_fix_is_refused() {
	fa_setup
	: >"$PATCHES_DIR/9.9/series" # the fix is "upstream": an empty series
	before=$(sha256sum "$PATCHES_DIR/9.9/source.conf")
	fa_source_deb 9.9.1-1 "$TOP/tests/lib/tcp-fake.c" # ... but the new code lacks it
	fa_publish fakesuite-security "$FA_DEB"
	run_rc rc scripts/refresh.sh 9.9
	[ "$rc" != 0 ] || fail "refresh accepted a new version without the fix"
	assert_contains "$out" "the fix is not proven on linux-source-9.9 9.9.1-1"
	assert_contains "$out" "ABSENT"
	assert_eq "$before" "$(sha256sum "$PATCHES_DIR/9.9/source.conf")" "source.conf (must be byte-identical)"
}

test_refresh_current_line_changes_nothing() {
	fa_setup
	before=$(sha256sum "$PATCHES_DIR/9.9/source.conf")
	run_rc rc scripts/refresh.sh 9.9
	assert_eq 0 "$rc" "refresh of a current line"
	assert_contains "$out" "already on the newest version"
	assert_eq "$before" "$(sha256sum "$PATCHES_DIR/9.9/source.conf")" "source.conf"
}

test_refresh_unreachable_archive_changes_nothing() {
	fa_setup
	before=$(sha256sum "$PATCHES_DIR/9.9/source.conf")
	export DEBIAN_MIRROR="http://127.0.0.1:9/debian" DEBIAN_SECURITY_MIRROR="http://127.0.0.1:9/debian-security"
	run_rc rc scripts/refresh.sh 9.9
	[ "$rc" != 0 ] || fail "refresh with the archive unreachable exited 0"
	assert_contains "$out" "could not find the newest version"
	assert_eq "$before" "$(sha256sum "$PATCHES_DIR/9.9/source.conf")" "source.conf"
}

test_real_pins_name_their_suites_and_config_versions() {
	# Every line with its own source names the suites `make outdated` asks, and
	# pins its config package with its own version and sha256.
	local f n=0
	for f in patches/*/source.conf; do
		grep -q '^SOURCE_LINE=' "$f" && continue
		n=$((n + 1))
		grep -qE '^SUITES=[a-z-]+(,[a-z-]+)*$' "$f" || fail "$f: no SUITES="
		grep -qE '^CONFIG_VERSION=[0-9]' "$f" || fail "$f: no CONFIG_VERSION="
		grep -qE '^CONFIG_DEB_SHA256=[0-9a-f]{64}$' "$f" || fail "$f: no CONFIG_DEB_SHA256="
		grep -qE '^ABI_CLOUD_AMD64_PACKAGE=linux-headers-' "$f" || fail "$f: no ABI_CLOUD_AMD64_PACKAGE="
		suite=$(sed -n 's/^SUITE=//p' "$f")
		grep -qE "^SUITES=(.*,)?$suite(,.*)?$" "$f" || fail "$f: SUITE=$suite is not one of SUITES"
	done
	[ "$n" -ge 3 ] || fail "only $n kernel lines with their own source"
}
