"""Imports app."""
