# Profile `smoke`: what CI builds for every kernel line (see smoke.config).
# A file smoke-<lts>.config, when present, is merged last: options whose
# Kconfig differs between lines.
BASE=tinyconfig
FRAGMENTS=smoke.config
CHANNELS=lab
