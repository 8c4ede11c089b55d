"""One module per API resource; each calls the same domain functions as the CLI and the UI."""
