# file: scripts/source.sh
# tests: unit/test_faults\.sh:test_faults_stale_work_dirs_are_removed$
# Work directories of killed runs are left.
s/^clean_stale /: clean_stale /
