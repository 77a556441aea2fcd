"""Domain layer: plain Python (no Flask) — stats types, processors, federation, de-identification."""
