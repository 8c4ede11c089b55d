"""Delivery app."""
