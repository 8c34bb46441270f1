# file: scripts/promote.sh
# tests: integration/test_promote\.sh:test_promote_killed_half_way_leaves_repo_unchanged$
# current is switched to the stage before its YUM half is made.
/^# --- YUM ---/i\
ln -sfn ".versions/$id" "$REPO/current.new"; mv -T "$REPO/current.new" "$REPO/current"
