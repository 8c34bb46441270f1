# Profile `debug`: smoke plus the kernel's own debugging (KASAN, lockdep,
# lock_stat, atomic-sleep and list checks, the function tracer and profiler,
# kprobe events): proves the fix's claim (zc-lockcount) and finds splats
# under zc-smoke, zc-stress and the selftests. A file debug-<lts>.config,
# when present, is merged last: options whose Kconfig differs between lines.
BASE=tinyconfig
FRAGMENTS=smoke.config,debug.config
CHANNELS=lab
# The gate requires zc-lockcount's counts of a debug kernel (0 on a fixed one).
LOCKCOUNT=required
# KASAN and lockdep make every step several times slower under TCG: a longer
# boot timeout, and fewer benchmark runs (a KASAN kernel's timings mean
# nothing; the deterministic counts need no ten runs). scripts/smoke.sh.
SMOKE_TIMEOUT_BASE=900
SMOKE_TIMEOUT_PER_STRESS=4
SMOKE_BENCH_REPEAT=3
