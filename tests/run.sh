#!/usr/bin/env bash
# tests/run.sh: the project's test suite. Every tests/{unit,integration}/*.sh
# file defines test_* functions; each runs in its own subshell with
# `set -euo pipefail`, from the top of the tree, with tests/lib/testlib.sh.
# A test passes by returning 0, fails otherwise, and is skipped by calling
# `skip REASON`. Output: TAP on stdout, then the closing line
# "N passed, N failed, N skipped"; JUnit XML in $OUT/test-results/junit.xml.
#   TESTS=<regex>  run only the tests whose "file:function" matches
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$TOP/out}
export TOP OUT
cd "$TOP" || exit 2
logs="$OUT/test-results"
rm -rf "$logs"
mkdir -p "$logs"

mapfile -t files < <(ls tests/unit/*.sh tests/integration/*.sh 2>/dev/null)
tests=()
for f in "${files[@]}"; do
	while read -r fn; do
		id="${f#tests/}:$fn"
		if [ -z "${TESTS:-}" ] || [[ $id =~ $TESTS ]]; then tests+=("$f:$fn"); fi
	done < <(grep -oE '^test_[A-Za-z0-9_]+\(\)' "$f" | tr -d '()')
done

xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

echo "TAP version 13"
echo "1..${#tests[@]}"
pass=0 fail=0 skipn=0 n=0
cases=""
t_all=$SECONDS
for t in "${tests[@]}"; do
	n=$((n + 1))
	f=${t%%:*} fn=${t#*:}
	id="${f#tests/}:$fn"
	logf="$logs/${id//[\/:]/_}.log"
	t0=$SECONDS
	(
		set -euo pipefail
		# shellcheck source=tests/lib/testlib.sh
		. "$TOP/tests/lib/testlib.sh"
		# shellcheck disable=SC1090
		. "$TOP/$f"
		"$fn"
	) >"$logf" 2>&1 </dev/null
	rc=$?
	secs=$((SECONDS - t0))
	name=$(xml_escape <<<"$id")
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n - $id (${secs}s)"
		cases+="  <testcase classname=\"${f#tests/}\" name=\"$name\" time=\"$secs\"/>"$'\n'
	elif [ "$rc" = 4 ]; then
		skipn=$((skipn + 1))
		reason=$(grep -m1 '^SKIP: ' "$logf" | cut -c7-)
		echo "ok $n - $id # SKIP ${reason:-no reason given}"
		cases+="  <testcase classname=\"${f#tests/}\" name=\"$name\" time=\"$secs\"><skipped message=\"$(xml_escape <<<"$reason")\"/></testcase>"$'\n'
	else
		fail=$((fail + 1))
		echo "not ok $n - $id (${secs}s, exit $rc)"
		tail -n 25 "$logf" | sed 's/^/#   /'
		cases+="  <testcase classname=\"${f#tests/}\" name=\"$name\" time=\"$secs\"><failure message=\"exit $rc\">$(tail -n 40 "$logf" | xml_escape)</failure></testcase>"$'\n'
	fi
done
{
	echo '<?xml version="1.0" encoding="UTF-8"?>'
	echo "<testsuite name=\"zc-kernel\" tests=\"${#tests[@]}\" failures=\"$fail\" skipped=\"$skipn\" time=\"$((SECONDS - t_all))\">"
	printf '%s' "$cases"
	echo '</testsuite>'
} >"$logs/junit.xml"
echo "# logs: $logs, JUnit: $logs/junit.xml, $((SECONDS - t_all)) s"
echo "$pass passed, $fail failed, $skipn skipped"
[ "$fail" = 0 ]
