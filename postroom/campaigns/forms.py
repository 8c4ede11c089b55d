"""Forms of the campaign and layout editors; the checks themselves live in services."""

import zoneinfo

from django import forms
from django.conf import settings
from django.db import models
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from postroom.audience.models import MailingList
from postroom.campaigns import pools, windows
from postroom.campaigns.models import Campaign, Layout
from postroom.campaigns.windows import EVERY_DAY
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput

# The pool's weight field of each sender is named POOL_PREFIX + its id.
POOL_PREFIX = "pool_"

CAMPAIGN_FIELDS = [
    "name", "subject", "preheader", "from_name", "from_email", "reply_to", "body_format",
    "body", "text_body", "layout", "lists", "segment", "sender", "track_opens", "track_clicks",
    "in_archive", "priority", "in_doubt_policy", "error_threshold_percent", "error_window",
    "window_start", "window_end", "local_time", "local_date", "window_timezone",
]  # fmt: skip
# The send window's fields, shown together in their own fieldset (_send_window.html).
WINDOW_FIELD_NAMES = [
    "window_start", "window_end", "window_weekdays", "local_time", "local_date", "window_timezone",
]  # fmt: skip


def parse_headers(text: str) -> dict[str, str]:
    """`Name: value` lines into a dict; the message builder checks names and values."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise InvalidInput(
                gettext("custom headers, line %(number)s: write it as 'Name: value'")
                % {"number": number}
            )
        headers[name.strip()] = value.strip()
    return headers


def format_headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in (headers or {}).items())


def _installation_zone_choice() -> list[tuple[str, str]]:
    own = gettext("the installation's (%(zone)s)") % {"zone": settings.TIME_ZONE}
    return [("", own), *time_zone_choices()]


class CampaignForm(forms.ModelForm):
    window_weekdays = forms.MultipleChoiceField(
        # Django's own abbreviations ("Mon", "Mo", "周一"), translated in its catalogues.
        choices=[(day, WEEKDAYS_ABBR[n]) for n, day in enumerate(windows.DAYS)],
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "weekdays"}),
        label=pgettext_lazy("the weekdays of a send window", "On"),
        initial=list(windows.DAYS),
    )
    window_timezone = forms.ChoiceField(
        choices=_installation_zone_choice,
        required=False,
        label=_("Readers without a time zone"),
        help_text=_(
            "Readers whose timezone attribute is missing or is not a zone follow this one."
        ),
    )
    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Lists"),
    )
    custom_headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "X-Campaign-Tag: spring"}),
        label=_("Custom headers"),
        help_text=_("One 'Name: value' per line."),
    )

    class Meta:
        model = Campaign
        fields = CAMPAIGN_FIELDS
        widgets = {
            "body": forms.Textarea(attrs={"rows": 18, "class": "code", "spellcheck": "true"}),
            "text_body": forms.Textarea(attrs={"rows": 6, "class": "code"}),
            "subject": forms.TextInput(),
            "window_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "window_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "local_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "local_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {
            "name": _("Name"),
            "subject": _("Subject"),
            "preheader": _("Preheader"),
            "from_name": _("From name"),
            "reply_to": _("Reply to"),
            "body": _("Body"),
            "layout": _("Layout"),
            "segment": _("Segment"),
            "sender": _("Sender"),
            "priority": _("Priority"),
            "in_doubt_policy": _("In doubt policy"),
            "body_format": _("Format"),
            "text_body": _("Plain-text part (optional)"),
            "from_email": _("From address"),
            "track_opens": _("Track opens"),
            "track_clicks": _("Track clicks"),
            "in_archive": _("Show in the public archive"),
            "error_threshold_percent": _("Pause when more than (%)"),
            "error_window": _("…of the last (recipients)"),
            "window_start": pgettext_lazy("a send window's hours", "From"),
            "window_end": pgettext_lazy("a send window's hours", "Until"),
            "local_time": pgettext_lazy("a time of day", "At"),
            "local_date": _("On the day (optional)"),
        }
        help_texts = {
            "text_body": _("Left empty, it is made from the HTML with the links listed."),
            "layout": _("Empty: the default layout. More ready-made: the Layouts page's gallery."),
            "sender": _(
                "Empty: the local capture outbox. The main sender: test sends go"
                " through it, and it shares the campaign with the senders weighted below."
            ),
            "in_archive": _(
                "Once sent, anyone can read it on the archive page of each of its public"
                " lists, rendered for nobody in particular (no names, no personal links)."
            ),
            "priority": _("A bigger number gets a bigger share of a shared sender."),
            "error_threshold_percent": _(
                "The campaign pauses itself when this share of its most recent recipients"
                " failed for good (5xx: bad addresses), counted across every worker. A sender"
                " that cannot be reached never pauses it: it waits."
            ),
            "error_window": _(
                "How many of the most recent recipients with an outcome count"
                " (at least 20 must have one)."
            ),
            "local_date": _(
                "Empty: the first time it is that hour after the start. Readers whose hour"
                " has already passed on that day get it at once."
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from_email"].required = False
        for name in ("error_threshold_percent", "error_window"):  # left out: the default
            self.fields[name].required = False
        self.fields["lists"].initial = list(self.instance.lists.all()) if self.instance.pk else []
        self.fields["window_weekdays"].initial = windows.day_names(self.instance.window_days)
        self.window_field_names = WINDOW_FIELD_NAMES
        if self.instance.pk:
            self.fields["custom_headers"].initial = format_headers(self.instance.headers)
        self._add_pool_fields()

    def _add_pool_fields(self) -> None:
        """A weight per sender: 0 leaves it out; the main one's weight is its share."""
        current = {s.pk: w for s, w in pools.members(self.instance)} if self.instance.pk else {}
        self.pool_field_names: list[str] = []
        for sender in Sender.objects.order_by("name"):
            name = f"{POOL_PREFIX}{sender.pk}"
            self.fields[name] = forms.IntegerField(
                label=sender.name,
                required=False,
                min_value=0,
                max_value=pools.MAX_WEIGHT,
                initial=current.get(sender.pk, 0),
                widget=forms.NumberInput(attrs={"class": "pool-weight", "inputmode": "numeric"}),
            )
            self.pool_field_names.append(name)

    def pool_fields(self) -> list:
        return [self[name] for name in self.pool_field_names]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns (django-stubs: dict | None)
        weighted = [
            (int(name.removeprefix(POOL_PREFIX)), data.get(name) or 0)
            for name in self.pool_field_names
        ]
        primary = data.get("sender")
        others = [(sid, w) for sid, w in weighted if w and (primary is None or sid != primary.pk)]
        if others and primary is None:
            self.add_error(
                "sender", gettext("Pick the main sender: the weighted ones share with it.")
            )
            return data
        if primary is None:
            data["pool"] = []
            return data
        senders = Sender.objects.in_bulk([sid for sid, _ in others])
        own = dict(weighted).get(primary.pk) or 1
        data["pool"] = [(primary, own)] + [(senders[sid], w) for sid, w in others]
        return data

    def clean_custom_headers(self) -> dict[str, str]:
        try:
            return parse_headers(self.cleaned_data.get("custom_headers") or "")
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None

    def service_fields(self) -> dict:
        """The cleaned values as keyword arguments for services.create/update_campaign."""
        data = {name: self.cleaned_data[name] for name in CAMPAIGN_FIELDS if name != "lists"}
        for name in ("error_threshold_percent", "error_window"):
            field = Campaign._meta.get_field(name)
            if data[name] is None and isinstance(field, models.Field):
                data[name] = field.default
        data["headers"] = self.cleaned_data["custom_headers"]
        # Weekdays only matter with hours; a window left empty is "any time" (services check).
        days = self.cleaned_data.get("window_weekdays") or []
        data["window_days"] = (
            sum(1 << windows.DAYS.index(d) for d in days) if data["window_start"] else EVERY_DAY
        )
        data["window_timezone"] = data["window_timezone"] or ""
        data["pool"] = self.cleaned_data["pool"]  # the main sender first (campaigns.pools)
        return data


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name] + [
        ("UTC", "UTC")
    ]


class ScheduleForm(forms.Form):
    # Read as text: the time belongs to the chosen zone, not the server's (services parse it).
    send_at = forms.CharField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label=_("Send at")
    )
    timezone = forms.ChoiceField(choices=time_zone_choices, label=_("Time zone"))


class TestSendForm(forms.Form):
    addresses = forms.CharField(
        widget=forms.TextInput(attrs={"placeholder": "me@example.com, colleague@example.com"}),
        label=_("Send a test to"),
    )
    # Django's form metaclass takes declared fields off the class, so Form.prefix is intact.
    prefix = forms.BooleanField(  # type: ignore[assignment]
        required=False, initial=True, label=_("Start the subject with “[Test] ”")
    )

    def address_list(self) -> list[str]:
        raw = self.cleaned_data["addresses"].replace(";", ",").replace("\n", ",")
        return [a.strip() for a in raw.split(",") if a.strip()]


class LayoutForm(forms.ModelForm):
    class Meta:
        model = Layout
        fields = ["name", "html"]
        widgets = {"html": forms.Textarea(attrs={"rows": 28, "class": "code"})}
        labels = {"name": _("Name"), "html": _("HTML")}
        help_texts = {
            "html": _(
                "Put {{ content }} where the campaign goes; {{ preheader }}, "
                "{{ unsubscribe_url }}, {{ view_url }} and {{ preferences_url }} are available."
            )
        }
