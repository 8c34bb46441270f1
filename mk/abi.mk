# mk/abi.mk - the ABI report of the fleet profiles against Debian's own build.
# Included from the top Makefile, which defines SCRIPTS, Q, KERNELS and
# exports PROFILE.
#
#   make abi PROFILE=cloud [KERNEL=<lts>]   out/results/<lts>-<profile>/abi.{json,txt}:
#                                           exported symbols added, removed, changed
#                                           (CRC, namespace, export type) against
#                                           Debian's linux-headers-<abi>-<flavour>

.PHONY: abi help-abi

abi: $(addprefix abi-,$(KERNELS))
abi-%: kernel-%
	$(Q)"$(SCRIPTS)"/abi-check.sh $*

help-abi:
	@echo 'ABI (fleet profiles: cloud, distro)'
	@echo '  abi                  Module.symvers against Debian'"'"'s build of the same release:'
	@echo '                       added, removed, changed symbols (out/results/<lts>-<profile>/abi.json)'
