"""The feed editor's form; the checks themselves live in feeds.services."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from postroom.audience.models import MailingList
from postroom.feeds.models import Feed

FEED_FIELDS = [
    "name", "url", "lists", "segment", "interval_minutes", "minimum_items", "subject",
    "template", "sender", "from_email", "from_name", "active",
]  # fmt: skip


class FeedForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        label=_("Feed address (RSS or Atom)"),
        widget=forms.URLInput(attrs={"placeholder": "https://blog.example.org/feed.xml"}),
    )
    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Lists"),
    )

    class Meta:
        model = Feed
        fields = FEED_FIELDS
        widgets = {
            "template": forms.Textarea(attrs={"rows": 10, "class": "code"}),
            "subject": forms.TextInput(),
        }
        labels = {
            "name": _("Name"),
            "segment": _("Segment"),
            "interval_minutes": _("Check every (minutes)"),
            "minimum_items": _("Send once this many new items wait"),
            "subject": _("Subject"),
            "template": _("Digest template"),
            "sender": _("Sender"),
            "from_email": _("From address"),
            "from_name": _("From name"),
            "active": _("Checked on schedule"),
        }
        help_texts = {
            "template": _(
                "Jinja2, once per digest, with {{ feed }} and {{ items }} (each with "
                "title, link, summary); feed text is shown as itself, never run as a template."
            ),
            "subject": _("A template too: {{ feed }} and {{ items|length }} work."),
            "from_email": _("Empty: the campaigns' default From address."),
            "sender": _("Empty: the local capture outbox."),
        }

    def service_fields(self) -> dict[str, Any]:
        """What create_feed/update_feed take: the lists apart, the rest as fields."""
        data = dict(self.cleaned_data)
        return {"lists": list(data.pop("lists")), **data}

    def _post_clean(self) -> None:
        # The model's own validation (URLField, uniqueness) is the services' job: one place
        # says what a feed may be, and one message comes back for the UI, API and CLI.
        pass
