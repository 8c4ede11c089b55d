"""Tracking app."""
