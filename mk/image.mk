# mk/image.mk - disk images, their boot-and-smoke, and the unpatched control.
# Included from the top Makefile ("include mk/image.mk"), which defines
# SCRIPTS, Q, KERNELS and OUT (and exports PROFILE).
#
#   make image KERNEL=5.10     $(OUT)/images/<lts>/: UEFI disk image (mkosi, images/)
#   make smoke KERNEL=5.10     boot it (and the .rpm's kernel) in qemu: $(OUT)/results/<lts>/
#   make control               the pristine 5.10 (-zc0) through the same image and smoke:
#                              must fail the three fast paths; exits 0 only then
# Variables: SMOKE_TIMEOUT (s per boot; default 300 + 2 x SMOKE_STRESS, 900 +
# 4 x SMOKE_STRESS for the debug profile: scripts/smoke.sh), SMOKE_RPM=no (skip the
# RPM's kernel) or always (boot it even when its bytes are the image kernel's,
# whose boot otherwise stands for it), QEMU_ACCEL=kvm|tcg (force), IMAGE_FORCE=1 (rebuild images),
# CONTROL_PREREQS (the targets that build the control's packages).

CONTROL_PREREQS ?= deb rpm selftests-pkg
# Every line with results is in the side-by-side table, the control included.
SMOKE_LINES := $(patsubst patches/%/source.conf,%,$(wildcard patches/*/source.conf))

.PHONY: image smoke control smoke-summary help-image

image: $(addprefix image-,$(KERNELS))
image-%: deb-% rpm-% selftests-pkg-%
	$(Q)$(SCRIPTS)/image.sh $*

# Boots run one after the other, whatever `make -j` says: two TCG guests on a
# 2-core machine would each take twice as long, and a verdict is timed.
# Every kernel is booted even when one fails; the table comes at the end.
smoke:
	$(Q)rc=0; for k in $(KERNELS); do \
		$(MAKE) --no-print-directory smoke-$$k || rc=1; \
	done; \
	$(SCRIPTS)/smoke.sh --summary $(SMOKE_LINES); \
	exit $$rc
smoke-%: image-%
	$(Q)$(SCRIPTS)/smoke.sh $*

smoke-summary:
	$(Q)$(SCRIPTS)/smoke.sh --summary $(SMOKE_LINES)

# The control must fail, on the fast-path checks and nothing else: that
# failure is the proof that the smoke test tells a fixed kernel from an
# unfixed one. `make smoke KERNEL=control` itself exits non-zero.
control:
	$(Q)$(MAKE) --no-print-directory KERNEL=control $(CONTROL_PREREQS)
	$(Q)$(SCRIPTS)/image.sh control
	$(Q)$(SCRIPTS)/smoke.sh control || true
	$(Q)$(SCRIPTS)/smoke.sh --summary $(SMOKE_LINES)
	$(Q)$(SCRIPTS)/smoke.sh --expect-control-fail

help-image:
	@echo 'Images and boot tests'
	@echo '  image                mkosi UEFI disk image per kernel (Debian bookworm, systemd, the .deb): out/images/<lts>'
	@echo '  smoke                boot each image (and the .rpm'"'"'s kernel) in qemu+OVMF, zc-smoke + zc-rpc-bench:'
	@echo '                       out/results/<lts>/, a verdict per kernel and the patched-vs-control table'
	@echo '                       (SMOKE_TIMEOUT=<s>: 420, debug 1140 by default; SMOKE_RPM=always|no, QEMU_ACCEL=kvm|tcg, IMAGE_FORCE=1)'
	@echo '  control              the unpatched 5.10 (-zc0) through the same image and smoke: must fail'
	@echo '                       the fast-path checks; exits 0 only when it does'
	@echo '  smoke-summary        the table of the last smoke results (also out/results/bench-summary.txt)'
