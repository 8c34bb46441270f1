# Profile `quick`: busybox initramfs only, for the pristine-versus-patched proof.
BASE=tinyconfig
FRAGMENTS=quick.config
CHANNELS=lab
