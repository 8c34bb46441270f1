# file: scripts/promote.sh
# tests: integration/test_promote\.sh:test_promote_test_profile_goes_to_lab_only$
# The work directory (a full copy of the packages) is never removed.
s/^cleanup_on_exit "\$work"$/: cleanup_on_exit "$work"/
