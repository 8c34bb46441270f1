#!/usr/bin/env bash
# tests/mutants/run.sh [NAME...]: the mutation check (`make mutants`). Each
# tests/mutants/<name>.sed is a small, named mutation of one script: the
# header says which file it changes ("# file: scripts/x.sh") and which tests
# must notice ("# tests: <TESTS regex for tests/run.sh>"). For each one, a
# scratch copy of the project is made, the mutation applied to it (a
# mutation that no longer changes its file is an error: it is stale), and the
# named tests run there. The mutant is killed when at least one of them fails;
# a mutant that survives fails this script. A TAP line per mutant, a summary,
# exit 0 only when every mutant was killed.
# First the same tests run on an unmutated copy: a kill only counts when they
# pass without the mutation (MUTANTS_BASELINE=0 skips that).
#   MUTANTS_KEEP=1  keep the scratch copies (under $OUT/mutants/)
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$TOP/out}
cd "$TOP" || exit 2

mapfile -t all < <(ls tests/mutants/*.sed 2>/dev/null)
sel=()
if [ "$#" -gt 0 ]; then
	for n in "$@"; do
		[ -f "tests/mutants/$n.sed" ] || { echo "error: no mutant tests/mutants/$n.sed" >&2; exit 2; }
		sel+=("tests/mutants/$n.sed")
	done
else
	sel=("${all[@]}")
fi
[ "${#sel[@]}" -gt 0 ] || { echo "error: no mutants in tests/mutants/" >&2; exit 2; }
# The test programs are built once, here, and copied into every scratch copy.
make -s --no-print-directory OUT="$OUT" c-bins >/dev/null || { echo "error: could not build the C programs" >&2; exit 2; }
base="$OUT/mutants"
rm -rf "$base"
mkdir -p "$base"

# copy_project DIR: the tracked files of the project, and the C programs.
copy_project() {
	mkdir -p "$1/out/bin"
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$1"
	cp -a "$OUT/bin/." "$1/out/bin/"
}

echo "TAP version 13"
echo "1..${#sel[@]}"
if [ "${MUTANTS_BASELINE:-1}" = 1 ]; then
	union=$(for m in "${sel[@]}"; do sed -n 's/^# tests: *//p' "$m" | head -n1; done | sort -u | paste -sd'|')
	copy_project "$base/baseline"
	if ! (cd "$base/baseline" && OUT="$base/baseline/out" TESTS="$union" tests/run.sh) >"$base/baseline.log" 2>&1; then
		echo "error: the tests the mutants name do not pass on the unmutated project (log $base/baseline.log):" >&2
		grep '^not ok' "$base/baseline.log" >&2
		exit 1
	fi
	echo "# baseline: $(tail -n1 "$base/baseline.log") without mutations"
	[ "${MUTANTS_KEEP:-0}" = 1 ] || rm -rf "$base/baseline"
fi

n=0 killed=0 survived=0 broken=0
for m in "${sel[@]}"; do
	n=$((n + 1))
	name=$(basename "$m" .sed)
	file=$(sed -n 's/^# file: *//p' "$m" | head -n1)
	tests=$(sed -n 's/^# tests: *//p' "$m" | head -n1)
	if [ -z "$file" ] || [ -z "$tests" ] || [ ! -f "$file" ]; then
		echo "not ok $n - $name # bad header: needs '# file: <existing file>' and '# tests: <regex>'"
		broken=$((broken + 1))
		continue
	fi
	scratch="$base/$name"
	copy_project "$scratch"
	sed -i -f "$m" "$scratch/$file"
	if cmp -s "$file" "$scratch/$file"; then
		echo "not ok $n - $name # stale: the mutation no longer changes $file"
		broken=$((broken + 1))
		continue
	fi
	t0=$SECONDS
	(cd "$scratch" && OUT="$scratch/out" TESTS="$tests" tests/run.sh) >"$base/$name.log" 2>&1
	rc=$?
	ran=$(grep -cE '^(not )?ok ' "$base/$name.log")
	failed=$(grep -cE '^not ok ' "$base/$name.log")
	secs=$((SECONDS - t0))
	if [ "$ran" = 0 ]; then
		echo "not ok $n - $name # no test matched '$tests'"
		broken=$((broken + 1))
	elif [ "$rc" != 0 ] && [ "$failed" -gt 0 ]; then
		echo "ok $n - $name killed by $failed of $ran test(s) (${secs}s)"
		killed=$((killed + 1))
	else
		echo "not ok $n - $name SURVIVED: $ran test(s) of '$tests' passed with $file mutated (${secs}s, log $base/$name.log)"
		survived=$((survived + 1))
	fi
	[ "${MUTANTS_KEEP:-0}" = 1 ] || rm -rf "$scratch"
done
echo "$killed killed, $survived survived, $broken broken (of ${#sel[@]} mutants)"
[ "$survived" = 0 ] && [ "$broken" = 0 ]
