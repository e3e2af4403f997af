"""Extended capability declarations, one module per capability (or family)."""
