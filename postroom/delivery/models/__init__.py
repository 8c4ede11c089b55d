"""Delivery models, one module per concern; Django finds them all through this package."""

from postroom.delivery.models.senders import Sender

__all__ = ["Sender"]
