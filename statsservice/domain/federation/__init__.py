"""Federation: de-identified per-(type, day) aggregates pushed to a global hub (SPEC §7)."""
