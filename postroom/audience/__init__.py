"""Audience app."""
