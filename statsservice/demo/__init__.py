"""Demo data: a port of the project generator of realistic MONARC uploads."""
