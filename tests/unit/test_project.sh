# shellcheck shell=bash
# Project hygiene: shellcheck, the Makefile contract.

test_shellcheck_clean() {
	command -v shellcheck >/dev/null || fail "shellcheck missing (make deps)"
	mapfile -t files < <( (git ls-files '*.sh' .ci/run 2>/dev/null; ls scripts/*.sh tests/*.sh tests/*/*.sh) | sort -u)
	shellcheck -x -S warning "${files[@]}"
}

test_make_help_lists_stages() {
	out=$(make -s help)
	assert_contains "$out" "make check" "make help"
	for t in deps source patch patch-check smoke-host quick-smoke; do
		assert_contains "$out" "  $t" "make help"
	done
}

test_makefile_has_no_machine_paths() {
	if grep -nE '(/work/|/root/|/home/)' Makefile tests/c.mk; then
		fail "absolute paths of this machine in the Makefile"
	fi
}

test_make_dry_run_respects_kernel() {
	out=$(make -n patch KERNEL=6.1)
	assert_contains "$out" "patch.sh 6.1"
	assert_not_contains "$out" "patch.sh 5.10"
}
