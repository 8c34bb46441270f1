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
ROLLOUT_CHANNEL = $(if $(filter command line environment,$(origin CHANNEL)),$(CHANNEL),stable)
export LAB_KERNEL

.PHONY: lab-fleet lab-down rollout help-rollout

lab-fleet:
	$(Q)$(SCRIPTS)/lab-fleet.sh $(N)

lab-down:
	$(Q)$(SCRIPTS)/lab-down.sh

# CHANNEL defaults to testing for `make promote` (mk/repo.mk) but a rollout
# takes stable unless told otherwise.
rollout:
	$(Q)CHANNEL='$(ROLLOUT_CHANNEL)' $(SCRIPTS)/rollout.sh

help-rollout:
	@echo 'Fleet rollout (Ansible: rollout/site.yml)'
	@echo '  rollout              roll KREL (default: the 5.10 line'"'"'s) from the signed repository, channel'
	@echo '                       CHANNEL (default stable), onto INVENTORY (default: the lab fleet) in waves'
	@echo '                       (canary 1, 10%, 50%, 100%): install, kexec, uname -r + zc-smoke, then the'
	@echo '                       new default boot entry; the first failure rolls that host back and halts.'
	@echo '                       Table + out/rollout/summary.json (REPO_URL, REPO_KEY, ROLLOUT_WAVES="1 10% 50% 100%",'
	@echo '                       ROLLOUT_BOOT_TIMEOUT=180, ROLLOUT_ROLLBACK=kexec|reboot, ROLLOUT_LIMIT=<pattern>)'
	@echo '  lab-fleet            N=$(N) qemu VMs of out/images/$(LAB_KERNEL) (LAB_KERNEL=<line>), ssh on'
	@echo '                       127.0.0.1:2222.. with out/lab/id_ed25519, the repository served over HTTP:'
	@echo '                       out/lab/inventory.ini, the default INVENTORY of make rollout'
	@echo '  lab-down             stop the lab fleet and remove its disks (idempotent)'
