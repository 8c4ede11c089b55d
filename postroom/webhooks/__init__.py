"""Outgoing webhooks: other systems hear about Postroom's events, signed and durably."""
