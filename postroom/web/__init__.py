"""Web app."""
