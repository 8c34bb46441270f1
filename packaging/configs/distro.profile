# Profile `distro`: Debian's generic amd64 configuration of the line
# (linux-config-<lts>, flavour amd64): the server kernel, a fleet profile.
# Hours on 2 cores: CI configures it and checks the drift; build farms build it.
BASE=debian:config.amd64_none_amd64.xz
FRAGMENTS=debian-build.config
DRIFT_ALLOW=toolchain.drift
CHANNELS=fleet
ABI_FLAVOUR=amd64
