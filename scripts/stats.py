#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""stats.py: medians with bootstrap 95 % confidence intervals for zc-rpc-bench.

  stats.py summarize BENCH.json [-o OUT.json]
      per configuration and metric: the raw samples (one per kept run), the
      median and its 95 % percentile-bootstrap interval; and the within-run
      effects (ratios of two configurations of the same round, e.g. the
      contention effect: hybrid-contend p99 / recv-contend p99).
  stats.py ab PATCHED.json CONTROL.json [-o OUT.json]
      the A/B comparison of two runs of the same suite on two kernels: for
      every metric and effect, control / patched as a ratio of medians with
      its interval (both sides resampled), the difference likewise, and the
      gate criterion (see CRITERION below).

Only Python's standard library; the resampling is seeded, so the same input
gives the same output. Exit status: 0, 1 on unreadable input, 2 on usage.
"""
import argparse
import json
import random
import statistics
import sys

B = 2000            # bootstrap resamples
SEED = 20261201
MIN_SAMPLES = 10    # fewer kept runs than this: no decision

# Metrics of one run, as paths into a sample of bench.json.
METRICS = [
    "qps", "syscalls_per_rpc", "syscalls_per_rpc_excl_wait",
    "per_rpc.getsockopt", "per_rpc.recv",
    "qps_per_cpu_second", "qps_per_system_cpu_second", "system_cpu_seconds",
    "softirq_seconds", "getsockopt_errors_per_rpc", "copy_failures_per_rpc",
    "copied_fraction", "empty_polls_per_rpc", "empty_poll_ns",
    "latency_us.p50", "latency_us.p99", "latency_us.p999", "latency_us.mean",
    "writer_op_us",
]

# The metrics compared across kernels (ab): the ones the fix can change.
AB_METRICS = {
    "syscalls_per_rpc_excl_wait", "getsockopt_errors_per_rpc", "copy_failures_per_rpc",
    "qps_per_cpu_second", "qps_per_system_cpu_second", "empty_poll_ns",
    "latency_us.p50", "latency_us.p99", "latency_us.p999",
}

# Within-run effects: numerator configuration / denominator configuration,
# per round (the two ran in the same round, minutes apart at most).
EFFECTS = {
    "contention_p50": ("hybrid-contend", "recv-contend", "latency_us.p50",
                       "closed loop under an mmap_lock writer: hybrid p50 / recv p50"),
    "contention_p99": ("hybrid-contend", "recv-contend", "latency_us.p99",
                       "closed loop under an mmap_lock writer: hybrid p99 / recv p99"),
    "contention_p999": ("hybrid-contend", "recv-contend", "latency_us.p999",
                        "closed loop under an mmap_lock writer: hybrid p99.9 / recv p99.9"),
    "contention_open_p99": ("hybrid-contend-open", "recv-contend-open", "latency_us.p99",
                            "open loop under an mmap_lock writer: hybrid p99 / recv p99"),
    "contention_open_p999": ("hybrid-contend-open", "recv-contend-open", "latency_us.p999",
                             "open loop under an mmap_lock writer: hybrid p99.9 / recv p99.9"),
    "contention_slowdown_p50": ("hybrid-contend", "hybrid", "latency_us.p50",
                                "hybrid p50 with the writer / without it"),
    "poll_cost": ("poll-inq0", "recv", "qps_per_system_cpu_second",
                  "QPS per system CPU-second, polling with inq == 0 / recv"),
}

# The gate's bench criterion (see README "The benchmark"): with the fix, small
# reads never take mmap_lock, so under a writer hybrid's tail latency stays
# near recv's; without it every call waits for the writer. Pass when the
# control's effect is larger than the patched kernel's with 95 % confidence.
CRITERION = "contention_p99"


def get(sample, path):
    v = sample
    for k in path.split("."):
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v if isinstance(v, (int, float)) else None


def median(xs):
    return statistics.median(xs) if xs else None


def resampled_median(xs, rng):
    n = len(xs)
    s = sorted(rng.choices(xs, k=n))
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def boot_ci(xs, rng):
    """95 % percentile-bootstrap interval of the median of xs."""
    if len(xs) < 2:
        return None
    est = sorted(resampled_median(xs, rng) for _ in range(B))
    return [est[int(0.025 * B)], est[int(0.975 * B) - 1]]


def summary(xs, rng):
    return {"n": len(xs), "median": median(xs), "ci95": boot_ci(xs, rng), "samples": xs}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"stats.py: cannot read {path}: {e}")


def by_round(cfg, path):
    out = {}
    for s in cfg.get("samples", []):
        v = get(s, path)
        if v is not None:
            out[s.get("round", len(out))] = v
    return out


def summarize(bench):
    rng = random.Random(SEED)
    cfgs = {c["name"]: c for c in bench.get("configs", [])}
    res = {"tool": "stats.py", "kernel": bench.get("kernel"), "suite": bench.get("suite"),
           "repeat": bench.get("repeat"), "warmup": bench.get("warmup"),
           "duration": bench.get("duration"), "size": bench.get("size"),
           "bootstrap": {"resamples": B, "seed": SEED, "interval": "95 % percentile"},
           "configs": {}, "effects": {}}
    for name, c in cfgs.items():
        m = {}
        for path in METRICS:
            xs = [v for v in (get(s, path) for s in c.get("samples", [])) if v is not None]
            if xs:
                m[path] = summary(xs, rng)
        res["configs"][name] = {"mode": c.get("mode"), "address": c.get("address"),
                                "segments": c.get("segments"), "contend": c.get("contend"),
                                "loop": c.get("loop"), "n": len(c.get("samples", [])),
                                "metrics": m}
    for name, (num, den, path, what) in EFFECTS.items():
        if num not in cfgs or den not in cfgs:
            continue
        a, b = by_round(cfgs[num], path), by_round(cfgs[den], path)
        xs = [a[r] / b[r] for r in sorted(a) if r in b and b[r] > 0]
        if xs:
            res["effects"][name] = dict(summary(xs, rng), definition=what,
                                        numerator=num, denominator=den, metric=path)
    return res


def compare(p, c, rng):
    """control against patched: ratio and difference of medians, with intervals."""
    if len(p) < 2 or len(c) < 2:
        return None
    ratios, diffs = [], []
    for _ in range(B):
        mp = resampled_median(p, rng)
        mc = resampled_median(c, rng)
        diffs.append(mc - mp)
        if mp:
            ratios.append(mc / mp)
    ratios.sort()
    diffs.sort()
    mp, mc = median(p), median(c)
    out = {"difference_control_minus_patched": {
        "median": mc - mp, "ci95": [diffs[int(0.025 * B)], diffs[int(0.975 * B) - 1]]}}
    if mp and len(ratios) == B:
        out["ratio_control_over_patched"] = {
            "median": mc / mp, "ci95": [ratios[int(0.025 * B)], ratios[int(0.975 * B) - 1]]}
    return out


def ab(pb, cb, ppath, cpath):
    ps, cs = summarize(pb), summarize(cb)
    rng = random.Random(SEED + 1)
    res = {"tool": "stats.py", "patched": {"kernel": pb.get("kernel"), "source": ppath},
           "control": {"kernel": cb.get("kernel"), "source": cpath},
           "bootstrap": ps["bootstrap"], "metrics": [], "effects": []}
    for name, pc in ps["configs"].items():
        cc = cs["configs"].get(name)
        if not cc:
            continue
        for path, pm in pc["metrics"].items():
            if path not in AB_METRICS:
                continue
            cm = cc["metrics"].get(path)
            if not cm:
                continue
            row = {"config": name, "metric": path,
                   "patched": {k: pm[k] for k in ("n", "median", "ci95")},
                   "control": {k: cm[k] for k in ("n", "median", "ci95")}}
            row.update(compare(pm["samples"], cm["samples"], rng) or {})
            res["metrics"].append(row)
    for name, pe in ps["effects"].items():
        ce = cs["effects"].get(name)
        if not ce:
            continue
        row = {"effect": name, "definition": pe["definition"],
               "patched": {k: pe[k] for k in ("n", "median", "ci95")},
               "control": {k: ce[k] for k in ("n", "median", "ci95")}}
        row.update(compare(pe["samples"], ce["samples"], rng) or {})
        res["effects"].append(row)
    crit = {"name": CRITERION, "definition": EFFECTS[CRITERION][3],
            "rule": "ratio_control_over_patched.ci95[0] > 1 with at least "
                    f"{MIN_SAMPLES} kept runs per side",
            "decided": False, "pass": False}
    row = next((e for e in res["effects"] if e["effect"] == CRITERION), None)
    if row and "ratio_control_over_patched" in row:
        r = row["ratio_control_over_patched"]
        crit.update(value=r["median"], ci95=r["ci95"],
                    n=[row["patched"]["n"], row["control"]["n"]])
        if min(row["patched"]["n"], row["control"]["n"]) >= MIN_SAMPLES:
            crit["decided"] = True
            crit["pass"] = r["ci95"][0] > 1
            crit["reason"] = (
                f"control/patched {CRITERION} = {r['median']:.3g} "
                f"[{r['ci95'][0]:.3g}, {r['ci95'][1]:.3g}]: "
                + ("the control suffers more under the mmap_lock writer"
                   if crit["pass"] else "no difference at 95 % confidence"))
        else:
            crit["reason"] = f"fewer than {MIN_SAMPLES} kept runs on a side"
    else:
        crit["reason"] = f"{CRITERION} missing on a side (not the 'ab' suite?)"
    res["criterion"] = crit
    return res


def write(obj, out):
    text = json.dumps(obj, indent=1) + "\n"
    if out:
        with open(out + ".tmp", "w") as f:
            f.write(text)
        import os
        os.replace(out + ".tmp", out)
    else:
        sys.stdout.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("summarize")
    s.add_argument("bench")
    s.add_argument("-o", "--output")
    a = sub.add_parser("ab")
    a.add_argument("patched")
    a.add_argument("control")
    a.add_argument("-o", "--output")
    args = ap.parse_args()
    if args.cmd == "summarize":
        write(summarize(load(args.bench)), args.output)
    else:
        write(ab(load(args.patched), load(args.control), args.patched, args.control),
              args.output)


if __name__ == "__main__":
    main()
