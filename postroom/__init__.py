"""Postroom: a self-hosted newsletter and email-campaign platform."""

__version__ = "0.1.0"
