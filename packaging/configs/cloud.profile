# Profile `cloud`: Debian's own cloud-amd64 configuration of the line (from
# the pinned linux-config-<lts> package): the kernel Debian ships to cloud VMs
# (virtio, NVMe, ENA, Hyper-V, Xen). What a VM fleet runs; a fleet profile.
# debian-build.config holds the few adjustments a build outside Debian's tree
# needs; after olddefconfig every difference from Debian's file must be
# explained by a fragment or by TOOLCHAIN.drift (kconfig.sh), or the build fails.
BASE=debian:config.amd64_none_cloud-amd64.xz
FRAGMENTS=debian-build.config
DRIFT_ALLOW=toolchain.drift
CHANNELS=fleet
ABI_FLAVOUR=cloud-amd64
