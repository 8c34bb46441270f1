# zc-kernel: backport, build, package, boot-test, promote and roll out the
# TCP receive zerocopy "short-circuit small reads" fix on LTS kernels.
# `make help` lists the targets. Every stage is a script in scripts/; this
# file only wires them together, per kernel, so `make -j` is safe.

KERNELS ?= 5.10 6.1 6.12
ifdef KERNEL
KERNELS := $(KERNEL)
endif
PROFILE ?= smoke
V ?= 0
OUT ?= $(CURDIR)/out
export OUT V PROFILE

ifeq ($(V),1)
Q :=
else
Q := @
endif

SCRIPTS := $(CURDIR)/scripts
C_OUT := $(OUT)/bin
include tests/c.mk
include mk/image.mk
include mk/repo.mk
include mk/rollout.mk

.DEFAULT_GOAL := all
.PHONY: all pipeline help deps c-bins source patch patch-check kernel deb rpm tools-pkg repro-check \
	smoke-host bench-host quick-smoke check test lint summary clean distclean

# The main job, for every kernel in KERNELS: fetch, backport, build, package,
# image, boot and smoke, gate, promote to the local `testing` repository.
# The summary table is printed whatever happened; the exit code is the job's.
all: deps
	$(Q)rc=0; $(MAKE) --no-print-directory pipeline || rc=$$?; \
	$(SCRIPTS)/summary.sh $(KERNELS) || true; exit $$rc

pipeline:
	$(Q)$(MAKE) --no-print-directory deb rpm
	$(Q)$(MAKE) --no-print-directory smoke
	$(Q)$(MAKE) --no-print-directory gate
	$(Q)$(MAKE) --no-print-directory promote CHANNEL=testing

help:
	@echo 'zc-kernel: the TCP zerocopy short-circuit fix on LTS kernels'
	@echo
	@echo 'Main commands'
	@echo '  make                 fetch, backport, build, package, image, smoke, gate, promote (testing)'
	@echo '                       for every kernel, then a summary table'
	@echo '  make check           the project test suite (ends with "N passed, N failed")'
	@echo
	@echo 'Stages (each for every kernel in KERNELS, or one with KERNEL=<lts>)'
	@echo '  deps                 install what is missing from Debian bookworm'
	@echo '  source               download the pinned Debian source, verify, unpack to out/src/<lts>'
	@echo '  patch                apply patches/<lts>/series to out/patched/<lts>, prove the fix'
	@echo '  patch-check          compile net/ipv4/ pristine and patched (W=1): no new warning'
	@echo '  kernel               build with PROFILE (smoke|distro) once, stage image/modules/headers'
	@echo '                       (CONFIG_ONLY=1: configure and check the profile only)'
	@echo '  deb                  linux-image-<KREL>, linux-headers-<KREL> (+ zc-smoke), lintian-clean'
	@echo '  rpm                  kernel-zc, kernel-zc-devel (+ zc-smoke), rpmlint-clean'
	@echo '  repro-check          rebuild from scratch and compare the packages byte for byte'
	@echo
	@echo 'Smoke test and benchmark'
	@echo '  smoke-host           build zc-smoke and run it on this machine'"'"'s kernel'
	@echo '  bench-host           zc-rpc-bench --suite ab on this machine'"'"'s kernel: 10 interleaved runs'
	@echo '                       per configuration, medians with 95% intervals (BENCH_REPEAT=10)'
	@echo '  quick-smoke          tiny kernel + busybox initramfs in qemu, zc-smoke inside'
	@echo '                       (TREE=patched|pristine, KERNEL=<lts>)'
	@echo
	@$(MAKE) -s --no-print-directory help-image
	@echo
	@$(MAKE) -s --no-print-directory help-repo
	@echo
	@$(MAKE) -s --no-print-directory help-rollout
	@echo
	@echo 'Other'
	@echo '  summary              the table of the last results, one row per kernel'
	@echo '  report               the results page: out/report/index.html (plots, verdicts, gate)'
	@echo '  lint                 shellcheck every script'
	@echo '  clean                remove out/ (downloads stay cached in $$CACHE_DIR)'
	@echo '  distclean            clean, and drop the download cache'
	@echo
	@echo 'Variables'
	@echo '  KERNELS="$(KERNELS)"  KERNEL=<lts>  PROFILE=$(PROFILE)  V=1 (show commands)'
	@echo '  OUT=out  CACHE_DIR=$${XDG_CACHE_HOME:-~/.cache}/zc-kernel  TESTS=<regex> (check)'

deps:
	$(Q)$(SCRIPTS)/deps.sh

source: $(addprefix source-,$(KERNELS))
source-%:
	$(Q)$(SCRIPTS)/source.sh $*

patch: $(addprefix patch-,$(KERNELS))
patch-%: source-%
	$(Q)$(SCRIPTS)/patch.sh $*

patch-check: $(addprefix patch-check-,$(KERNELS))
patch-check-%: patch-%
	$(Q)$(SCRIPTS)/quick-kernel.sh $*
	$(Q)sed 's/^/patch-check $*: /' $(OUT)/build/quick/$*/patch-check.txt | cut -c1-160

kernel: $(addprefix kernel-,$(KERNELS))
kernel-%: patch-%
	$(Q)$(SCRIPTS)/kernel.sh $*

tools-pkg: $(C_OUT)/zc-smoke
	$(Q)$(SCRIPTS)/package-tools.sh

deb: $(addprefix deb-,$(KERNELS))
deb-%: kernel-% tools-pkg
	$(Q)$(SCRIPTS)/package-deb.sh $*

rpm: $(addprefix rpm-,$(KERNELS))
rpm-%: kernel-% tools-pkg
	$(Q)$(SCRIPTS)/package-rpm.sh $*

repro-check: $(addprefix repro-check-,$(KERNELS))
repro-check-%: patch-%
	$(Q)$(SCRIPTS)/repro-check.sh $*

smoke-host: $(C_OUT)/zc-smoke
	$(Q)mkdir -p $(OUT)/results/host
	$(Q)$(C_OUT)/zc-smoke --json $(OUT)/results/host/smoke.json | tee $(OUT)/results/host/smoke.tap
	$(Q)jq -e '.summary.fail == 0' $(OUT)/results/host/smoke.json >/dev/null
	@echo "smoke-host: pass ($(OUT)/results/host/smoke.{tap,json})"

# BENCH_REPEAT=10 BENCH_WARMUP=1 BENCH_DURATION=0.5 (scripts/bench.sh)
bench-host: $(C_OUT)/zc-rpc-bench
	$(Q)$(SCRIPTS)/bench.sh host

# The results page from the JSON the pipeline wrote: $(OUT)/report/index.html
.PHONY: report
report:
	$(Q)$(SCRIPTS)/report.sh

TREE ?= patched
quick-smoke: $(C_OUT)/zc-smoke $(addprefix quick-smoke-,$(KERNELS))
quick-smoke-%: patch-% $(C_OUT)/zc-smoke
	$(Q)$(SCRIPTS)/quick-smoke.sh $* $(TREE)

c-bins: $(C_OUT)/zc-smoke $(C_OUT)/zc-rpc-bench

check: deps
	$(Q)$(MAKE) --no-print-directory c-bins
	$(Q)tests/run.sh

test: check

lint:
	$(Q)shellcheck -x -S warning scripts/*.sh tests/run.sh tests/*/*.sh .ci/run images/*.sh \
		rollout/roles/*/files/zc-*
	$(Q)if command -v ansible-lint >/dev/null; then cd rollout && ansible-lint -q; fi

summary:
	$(Q)$(SCRIPTS)/summary.sh $(KERNELS)

clean:
	rm -rf $(OUT)

distclean: clean
	rm -rf "$${CACHE_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/zc-kernel}"
