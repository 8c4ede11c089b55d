"""Date formats that differ from Django's for a language (settings.FORMAT_MODULE_PATH)."""
