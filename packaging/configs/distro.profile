# Profile `distro`: Debian's own configuration of the line (linux-config-<lts>,
# flavour amd64), for users' build farms. Hours on 2 cores: CI only configures it.
BASE=debian:config.amd64_none_amd64.xz
FRAGMENTS=distro.config
