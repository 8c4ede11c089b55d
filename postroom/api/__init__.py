"""Api app."""
