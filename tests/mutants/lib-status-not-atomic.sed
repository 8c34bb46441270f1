# file: scripts/lib.sh
# tests: unit/test_faults\.sh:test_faults_status_files_atomic_and_summary_robust$
# The status record is written in place (truncated first).
s/^\ttmp="\$f.tmp.\$\$"$/\ttmp="$f"/
