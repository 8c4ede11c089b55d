"""What anyone may read without logging in: the lists' archives, and the brand public pages wear."""
