#!/usr/bin/env bash
# repro-check.sh LTS: is the packaging reproducible? Keep the current
# packages, rebuild the kernel from an empty object directory (ccache off, so
# the compiler really runs) and package it again, then compare every .deb and
# .rpm byte for byte. On a difference, name the files inside that differ.
# Writes $OUT/repro/<lts>/report.txt; exit 1 when anything differs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

lts=${1:-}
load_conf "$lts"
profile=${PROFILE:-smoke}
rep="$OUT/repro/$lts"
rm -rf "$rep"
mkdir -p "$rep/first" "$rep/second"

build_once() { # build_once DIR: a from-scratch build and its packages into DIR
	rm -rf "$OUT/build/$profile/$lts/obj" "$OUT/build/$profile/$lts/stage" "$OUT/pkg/$lts/deb" "$OUT/pkg/$lts/rpm"
	CCACHE_DISABLE=1 "$TOP/scripts/kernel.sh" "$lts"
	"$TOP/scripts/package-deb.sh" "$lts"
	"$TOP/scripts/package-rpm.sh" "$lts"
	cp "$OUT/pkg/$lts"/deb/*.deb "$OUT/pkg/$lts"/rpm/*.rpm "$1/"
}
log repro "$lts" "first build"
build_once "$rep/first"
log repro "$lts" "second build, from scratch"
build_once "$rep/second"

differ=0
: >"$rep/report.txt"
for a in "$rep/first"/*; do
	name=$(basename "$a")
	b="$rep/second/$name"
	if cmp -s "$a" "$b"; then
		echo "identical  $name  $(sha256_of "$a")" >>"$rep/report.txt"
		continue
	fi
	differ=$((differ + 1))
	echo "DIFFERENT  $name" >>"$rep/report.txt"
	for side in first second; do
		mkdir -p "$rep/x/$side"
		case "$name" in
		*.deb) dpkg-deb -x "$rep/$side/$name" "$rep/x/$side/$name" ;;
		*.rpm) (mkdir -p "$rep/x/$side/$name" && cd "$rep/x/$side/$name" && rpm2cpio "$rep/$side/$name" | cpio -idm --quiet) ;;
		esac
	done
	diff -rq "$rep/x/first/$name" "$rep/x/second/$name" | sed 's/^/    /' >>"$rep/report.txt" ||
		echo "    payload files identical: the difference is in the package metadata" >>"$rep/report.txt"
done
rm -rf "$rep/x"
cat "$rep/report.txt"
if [ "$differ" -gt 0 ]; then
	die "$differ package(s) of $lts differ between two builds of the same inputs (see $rep/report.txt)"
fi
log repro "$lts" "all $(find "$rep/first" -type f | wc -l) packages are byte-identical across two builds"
