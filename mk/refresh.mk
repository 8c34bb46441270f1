# mk/refresh.mk - keeping every kernel line on its distro's newest security
# release. Included from the top Makefile, which defines SCRIPTS, Q, KERNELS.
#
#   make outdated [KERNEL=<lts>]   pinned vs newest served, table + $(OUT)/outdated.json
#                                  (scripts/outdated.sh exits 0 current, 3 behind, 2 error;
#                                  make itself can only say 0 or 2: read the JSON's status)
#   make refresh [KERNEL=<lts>]    move a line's pins to the newest release once the
#                                  series re-applies with zero fuzz and the fix is
#                                  re-proven (REFRESH_TO=<version> for another one)
# Lines that borrow another line's source (the control) follow that line.

.PHONY: outdated refresh help-refresh

outdated:
	$(Q)"$(SCRIPTS)"/outdated.sh $(KERNELS)

# One line after the other: each downloads and unpacks a kernel tree.
# The reports of the lines refreshed go to $(OUT)/refresh/summary.md (the
# scheduled CI job's pull-request text).
refresh:
	$(Q)set -e; mkdir -p "$(OUT)/refresh"; : >"$(OUT)/refresh/summary.md"; \
	for k in $(KERNELS); do \
		if grep -q '^SOURCE_LINE=' "patches/$$k/source.conf" 2>/dev/null; then \
			echo "refresh: $$k follows $$(sed -n 's/^SOURCE_LINE=//p' "patches/$$k/source.conf"): nothing to do"; \
		else \
			rm -f "$(OUT)/refresh/$$k.txt"; "$(SCRIPTS)"/refresh.sh "$$k"; \
			if [ -f "$(OUT)/refresh/$$k.txt" ]; then \
				{ echo '```'; cat "$(OUT)/refresh/$$k.txt"; echo '```'; } >>"$(OUT)/refresh/summary.md"; fi; \
		fi; \
	done

help-refresh:
	@echo 'Keeping up with the distro'
	@echo '  outdated             each line: pinned version, newest its suites serve, releases behind'
	@echo '                       (out/outdated.json; exit 0 current, 3 behind, 2 error)'
	@echo '  refresh              move a line to its newest release: download, verify, re-apply the'
	@echo '                       series with zero fuzz, re-prove the fix, rewrite source.conf'
