# file: scripts/patch.sh
# tests: unit/test_faults\.sh:test_faults_patch_fuzz_and_missing_target$
# Apply patches with fuzz 2 and stop refusing "with fuzz".
s/ -F0 -N / -F2 -N /
s/grep -q 'with fuzz'/false/
