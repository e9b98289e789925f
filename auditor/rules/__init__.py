"""Rule packs: loading, checking and evaluating compliance rules."""
