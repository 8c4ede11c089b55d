"""Delivery models, one module per concern; Django finds them all through this package."""

from postroom.delivery.models.ledger import CampaignEvent, CampaignRun, Delivery
from postroom.delivery.models.limits import CampaignShare, RateLimit, SchedulerState, SendSlot
from postroom.delivery.models.outbox import OutboxMessage, QueuedMessage
from postroom.delivery.models.senders import Sender
from postroom.delivery.models.workers import Worker

__all__ = [
    "CampaignEvent",
    "CampaignRun",
    "CampaignShare",
    "Delivery",
    "OutboxMessage",
    "QueuedMessage",
    "RateLimit",
    "SchedulerState",
    "SendSlot",
    "Sender",
    "Worker",
]
