# mk/refresh.mk - keeping every kernel line on its distro's newest security
# release. Included from the top Makefile, which defines SCRIPTS, Q, KERNELS.
#
#   make outdated [KERNEL=<lts>]   pinned vs newest served, table + $(OUT)/outdated.json
#                                  (exit 0 current, 3 behind, 2 error)
#   make refresh [KERNEL=<lts>]    move a line's pins to the newest release once the
#                                  series re-applies with zero fuzz and the fix is
#                                  re-proven (REFRESH_TO=<version> for another one)
# Lines that borrow another line's source (the control) follow that line.

.PHONY: outdated refresh help-refresh

outdated:
	$(Q)$(SCRIPTS)/outdated.sh $(KERNELS)

# One line after the other: each downloads and unpacks a kernel tree.
refresh:
	$(Q)set -e; for k in $(KERNELS); do \
		if grep -q '^SOURCE_LINE=' "patches/$$k/source.conf" 2>/dev/null; then \
			echo "refresh: $$k follows $$(sed -n 's/^SOURCE_LINE=//p' "patches/$$k/source.conf"): nothing to do"; \
		else $(SCRIPTS)/refresh.sh "$$k"; fi; \
	done

help-refresh:
	@echo 'Keeping up with the distro'
	@echo '  outdated             each line: pinned version, newest its suites serve, releases behind'
	@echo '                       (out/outdated.json; exit 0 current, 3 behind, 2 error)'
	@echo '  refresh              move a line to its newest release: download, verify, re-apply the'
	@echo '                       series with zero fuzz, re-prove the fix, rewrite source.conf'
