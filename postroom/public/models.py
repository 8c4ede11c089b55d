"""The look of the public pages: one row for the installation, one per list that differs."""

from django.conf import settings
from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce


class Branding(models.Model):
    """Name, logo, colour and postal address shown on the pages subscribers see.

    In the database, like the other installation settings changed on the
    Settings page: an operator rebrands without a restart. The row without a
    list is the installation's; a list's row overrides it field by field, an
    empty field meaning "as the installation" (postroom.public.branding).
    """

    mailing_list = models.OneToOneField(
        "audience.MailingList",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="branding",
    )
    name = models.CharField(max_length=100, blank=True, default="")
    logo_url = models.CharField(max_length=500, blank=True, default="")
    colour = models.CharField(max_length=7, blank=True, default="")  # #rrggbb
    postal_address = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        constraints = [
            # One installation row (no list) even when two first saves race.
            models.UniqueConstraint(
                Coalesce("mailing_list", Value(0)), name="branding_one_per_list"
            )
        ]

    def __str__(self) -> str:
        return f"branding of {self.mailing_list or 'the installation'}"
