#!/usr/bin/env bash
# kconfig.sh SRCTREE OBJDIR BASE FRAGMENT...: configure OBJDIR from BASE (a make
# target such as tinyconfig, or a path to a .config) merged with FRAGMENTs by
# the kernel's own scripts/kconfig/merge_config.sh, then olddefconfig; then
# check that every option a fragment asked for is really set as asked. A
# silently dropped option is an error that names it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

src=$1 obj=$2 base=$3
shift 3
mkdir -p "$obj"
src=$(cd "$src" && pwd) obj=$(cd "$obj" && pwd)
kmake=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$src" O="$obj" ARCH=x86_64)

if [ -f "$base" ]; then
	cp "$base" "$obj/.config"
else
	run "${kmake[@]}" "$base" >"$obj/base-config.log" 2>&1 || { cat "$obj/base-config.log" >&2; die "make $base failed"; }
fi
if [ "$#" -gt 0 ]; then
	(cd "$obj" && run env ARCH=x86_64 "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$@" >"$obj/merge_config.log" 2>&1) ||
		die "merge_config.sh failed (see $obj/merge_config.log)"
fi
run "${kmake[@]}" olddefconfig >"$obj/olddefconfig.log" 2>&1 || { cat "$obj/olddefconfig.log" >&2; die "olddefconfig failed"; }

# Every CONFIG_X=v and "# CONFIG_X is not set" of the fragments must hold.
bad=()
for frag in "$@"; do
	fname=${frag##*/}
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			opt=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
			got=$(grep -E "^$opt=" "$obj/.config" | cut -d= -f2- || true)
			[ "$got" = "$want" ] || bad+=("$opt: asked $want in $fname, got ${got:-not set}")
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
			opt=${BASH_REMATCH[1]}
			if grep -qE "^$opt=" "$obj/.config"; then
				bad+=("$opt: asked not set in $fname, got $(grep -E "^$opt=" "$obj/.config" | cut -d= -f2-)")
			fi
		fi
	done <"$frag"
done
if [ "${#bad[@]}" -gt 0 ]; then
	printf 'error: %d option(s) asked for by the profile were dropped or changed by olddefconfig\n' "${#bad[@]}" >&2
	printf '  %s\n' "${bad[@]}" >&2
	echo "Add the options they depend on to the fragment, or drop them from it." >&2
	exit 1
fi

# Drift: with a Debian base, every option of the final .config that differs
# from Debian's must be explained by a fragment (checked above) or by a rule
# of DRIFT_ALLOW (options Kconfig derives from the toolchain). The full list,
# with what explains each line, goes to DRIFT_REPORT (part of the results).
if [ -n "${DRIFT_REPORT:-}" ] && [ -f "$base" ]; then
	[ -f "${DRIFT_ALLOW:-}" ] || die "DRIFT_ALLOW=${DRIFT_ALLOW:-} is not a file"
	python3 - "$base" "$obj/.config" "$DRIFT_ALLOW" "$DRIFT_REPORT" "$@" <<-'PY' || exit 1
		import re, sys, os
		base, final, allow, report = sys.argv[1:5]
		frags = sys.argv[5:]
		def parse(p):
		    d = {}
		    for l in open(p):
		        l = l.rstrip('\n')
		        m = re.match(r'(CONFIG_\w+)=(.*)$', l)
		        if m: d[m.group(1)] = m.group(2); continue
		        m = re.match(r'# (CONFIG_\w+) is not set$', l)
		        if m: d[m.group(1)] = 'n'
		    return d
		b, f = parse(base), parse(final)
		fragopt = {}
		for fr in frags:
		    for o in parse(fr): fragopt[o] = os.path.basename(fr)
		rules = []
		for l in open(allow):
		    if not l.strip() or l.startswith('#'): continue
		    parts = l.split(None, 1)
		    rules.append((re.compile(parts[0] + '$'), parts[1].strip() if len(parts) > 1 else ''))
		out, bad = [], []
		for o in sorted(set(b) | set(f)):
		    bv, fv = b.get(o, 'n'), f.get(o, 'n')
		    if bv == fv: continue
		    why = None
		    if o in fragopt: why = 'fragment ' + fragopt[o]
		    else:
		        for rx, reason in rules:
		            if rx.match(o): why = 'toolchain: ' + reason; break
		    line = '%s: debian=%s build=%s  (%s)' % (o, b.get(o, '(absent)'), f.get(o, '(absent)'), why or 'UNEXPLAINED')
		    out.append(line)
		    if not why: bad.append(line)
		with open(report + '.new', 'w') as fh:
		    fh.write('# %d option(s) differ from %s; %d unexplained\n' % (len(out), os.path.basename(base), len(bad)))
		    fh.write(''.join(x + '\n' for x in out))
		os.replace(report + '.new', report)
		if bad:
		    sys.stderr.write('error: %d option(s) of the final .config differ from Debian\'s configuration with no fragment or rule to explain them:\n' % len(bad))
		    for x in bad[:40]: sys.stderr.write('  ' + x + '\n')
		    if len(bad) > 40: sys.stderr.write('  ... (%d more; all in %s)\n' % (len(bad) - 40, report))
		    sys.stderr.write('Set them in a fragment (with the reason), or add a rule to %s if the toolchain decides them.\n' % allow)
		    sys.exit(1)
	PY
fi
