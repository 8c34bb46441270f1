# file: scripts/promote.sh
# tests: integration/test_promote\.sh:test_promote_killed_at_the_first_switch_and_during_staging$
# The entry points (apt, yum, ...) are made after the switch, as before issue 13.
/^for e in "\${entries\[@\]}"; do$/,/^done$/d
/^test_pause switched$/i\
for e in "${entries[@]}"; do [ -e "$stage/$e" ] || continue; ln -sfn "current/$e" "$REPO/$e.new"; mv -T "$REPO/$e.new" "$REPO/$e"; done
/^mv -T "\$REPO\/current.new" "\$REPO\/current"$/a\
test_pause switched
