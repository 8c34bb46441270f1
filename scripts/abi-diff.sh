#!/usr/bin/env bash
# abi-diff.sh REFERENCE OURS OUTDIR [LABEL]: compare two Module.symvers files
# (the kernel's exported-symbol ABI: "CRC<TAB>symbol<TAB>module<TAB>export
# type<TAB>namespace") and write OUTDIR/abi.json and OUTDIR/abi.txt:
#   added    symbols only in OURS
#   removed  symbols only in REFERENCE            (an ABI break)
#   changed  same symbol, other CRC, namespace or export type (an ABI break:
#            EXPORT_SYMBOL -> _GPL refuses non-GPL modules)
#   moved    same symbol exported by another module (informational)
# Exit 0 when nothing was removed or changed, 1 when something was (each one
# named on stderr), 2 on bad input.
set -euo pipefail
[ "$#" -ge 3 ] || { echo "usage: $0 REFERENCE OURS OUTDIR [LABEL]" >&2; exit 2; }
ref=$1 ours=$2 outdir=$3 label=${4:-}
for f in "$ref" "$ours"; do
	[ -s "$f" ] || { echo "error: $f: no such Module.symvers (or empty)" >&2; exit 2; }
done
mkdir -p "$outdir"
exec python3 - "$ref" "$ours" "$outdir" "$label" <<'PY'
import json, os, sys
ref, ours, outdir, label = sys.argv[1:5]
def load(p):
    d = {}
    for n, line in enumerate(open(p), 1):
        f = line.rstrip('\n').split('\t')
        if len(f) < 4 or not f[0].startswith('0x'):
            sys.stderr.write('error: %s:%d: not a Module.symvers line: %r\n' % (p, n, line[:80])); sys.exit(2)
        d[f[1]] = {'crc': f[0], 'module': f[2], 'type': f[3], 'namespace': f[4] if len(f) > 4 else ''}
    return d
a, b = load(ref), load(ours)
added = sorted(set(b) - set(a))
removed = sorted(set(a) - set(b))
changed, moved = [], []
for s in sorted(set(a) & set(b)):
    for k in ('crc', 'namespace', 'type'):
        if a[s][k] != b[s][k]:
            changed.append({'symbol': s, 'field': k, 'reference': a[s][k], 'ours': b[s][k], 'module': b[s]['module']})
    if a[s]['module'] != b[s]['module']:
        moved.append({'symbol': s, 'reference': a[s]['module'], 'ours': b[s]['module']})
res = {'label': label, 'reference': os.path.abspath(ref), 'ours': os.path.abspath(ours),
       'counts': {'reference': len(a), 'ours': len(b), 'added': len(added), 'removed': len(removed),
                  'changed': len(changed), 'moved': len(moved)},
       'verdict': 'pass' if not removed and not changed else 'fail',
       'added': added, 'removed': [{'symbol': s, **a[s]} for s in removed], 'changed': changed, 'moved': moved}
tmp = os.path.join(outdir, '.abi.json.tmp')
json.dump(res, open(tmp, 'w'), indent=1); os.replace(tmp, os.path.join(outdir, 'abi.json'))
c = res['counts']
lines = ['ABI %s: %d exported symbols here, %d in the reference; %d added, %d removed, %d changed (CRC, namespace or export type), %d moved between modules'
         % (label, c['ours'], c['reference'], c['added'], c['removed'], c['changed'], c['moved'])]
lines += ['  removed: %s (%s, %s)' % (r['symbol'], r['module'], r['type']) for r in res['removed']]
lines += ['  changed: %s %s %s -> %s (%s)' % (x['symbol'], x['field'], x['reference'] or '(none)', x['ours'] or '(none)', x['module']) for x in changed]
lines += ['  added:   %s (%s)' % (s, b[s]['module']) for s in added]
lines += ['  moved:   %s %s -> %s' % (m['symbol'], m['reference'], m['ours']) for m in moved]
open(os.path.join(outdir, 'abi.txt'), 'w').write('\n'.join(lines) + '\n')
print(lines[0])
if res['verdict'] == 'fail':
    for l in lines[1:]:
        if l.startswith(('  removed', '  changed')): sys.stderr.write(l + '\n')
    sys.exit(1)
PY
