"""Admin UI and public page views, one module per area."""
