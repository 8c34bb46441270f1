# mk/rollout.mk - the fleet rollout (Ansible, rollout/) and its lab fleet of
# qemu VMs. Included from the top Makefile ("include mk/rollout.mk"), which
# defines SCRIPTS, Q and OUT.
#
#   make lab-fleet N=3        N VMs booted from out/images/$(LAB_KERNEL) (the
#                             control kernel), ssh on 127.0.0.1:2222.., the
#                             repository served to them; out/lab/inventory.ini
#   make rollout              roll KREL out of CHANNEL onto INVENTORY in waves
#   make lab-down             stop the lab fleet (idempotent)
# Variables: INVENTORY (default: the lab's), CHANNEL (stable), KREL (default:
# the 5.10 line's), REPO_URL/REPO_KEY (real fleets), ROLLOUT_WAVES,
# ROLLOUT_BOOT_TIMEOUT, ROLLOUT_ROLLBACK, N, LAB_KERNEL, LAB_SSH_PORT.

N ?= 3
LAB_KERNEL ?= control
ROLLOUT_CHANNEL = $(if $(filter command line environment,$(origin CHANNEL)),$(CHANNEL),)
export LAB_KERNEL

.PHONY: lab-fleet lab-down rollout check-lab help-rollout

lab-fleet:
	$(Q)$(SCRIPTS)/lab-fleet.sh $(N)

lab-down:
	$(Q)$(SCRIPTS)/lab-down.sh

# CHANNEL defaults to testing for `make promote` (mk/repo.mk) but a rollout
# takes stable unless told otherwise.
rollout:
	$(Q)CHANNEL=$(call shq,$(ROLLOUT_CHANNEL)) "$(SCRIPTS)"/rollout.sh

# The rollout's long tests: the VM tests (tests/integration/test_rollout.sh,
# lab fleets of up to 3 qemu VMs, one lab at a time, tens of minutes under
# TCG; they need `make image KERNEL=5.10` and `make image KERNEL=control`)
# and the longer fake-host tests (test_rollout_fake.sh, ~15 min). `make
# check` skips them.
check-lab:
	$(Q)ZC_LAB_TESTS=1 TESTS='$(or $(TESTS),integration/test_rollout(_fake)?[.]sh:)' $(CURDIR)/tests/run.sh

help-rollout:
	@echo 'Fleet rollout (Ansible: rollout/site.yml)'
	@echo '  rollout              roll KREL (default: the 5.10 line'"'"'s) from the signed repository, channel'
	@echo '                       CHANNEL (default stable), onto INVENTORY (default: the lab fleet) in waves'
	@echo '                       (canary 1, 1%, 5%, 25%, 100% of the hosts left, at most ROLLOUT_MAX_WAVE=500):'
	@echo '                       install, trial kexec, uname -r + zc-smoke, then the new default boot entry;'
	@echo '                       the first failure rolls that host back to its known-good kernel and halts.'
	@echo '                       Each run: out/rollout/runs/<id>/ (summary.json as it goes, the resume command);'
	@echo '                       done hosts are skipped on a re-run, failed ones quarantined (ROLLOUT_CLEAR=h1,h2).'
	@echo '                       REPO_URL, REPO_KEY, ROLLOUT_WAVES, ROLLOUT_BAKE, ROLLOUT_HOST_HOOK, ROLLOUT_WAVE_HOOK,'
	@echo '                       ROLLOUT_BOOT_TIMEOUT=180, ROLLOUT_ROLLBACK=kexec|reboot, ROLLOUT_LIMIT, ROLLOUT_DRY_RUN=1'
	@echo '                       (all in rollout/README.md)'
	@echo '  lab-fleet            N=$(N) qemu VMs of out/images/$(LAB_KERNEL) (LAB_KERNEL=<line>), ssh on'
	@echo '                       127.0.0.1:2222.. with out/lab/id_ed25519, the repository served over HTTP:'
	@echo '                       out/lab/inventory.ini, the default INVENTORY of make rollout'
	@echo '  lab-down             stop the lab fleet and remove its disks (idempotent)'
	@echo '  check-lab            the rollout'"'"'s long tests: VMs (3 at most, tens of minutes under TCG), fake hosts'
