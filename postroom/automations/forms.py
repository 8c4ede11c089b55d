"""The sequence pages' forms: plain fields; `automations.services` does the checking."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from postroom.audience.models import MailingList, Segment
from postroom.automations import services, waits
from postroom.automations.models import Automation, Step
from postroom.campaigns import windows
from postroom.campaigns.forms import CampaignForm
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Sender
from postroom.webhooks.models import Endpoint

# A send step's window: the campaign form's own fields (and its fieldset,
# web/campaigns/_send_window.html), hours only.
STEP_WINDOW_FIELDS = ["window_start", "window_end", "window_weekdays", "window_timezone"]


def _names(model) -> list[tuple[str, str]]:
    return [("", "—")] + [(n, n) for n in model.objects.values_list("name", flat=True)]


class AutomationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    trigger = forms.ChoiceField(
        label=_("Who enters"), choices=Automation.Trigger.choices, initial="joined"
    )
    mailing_list = forms.ChoiceField(
        label=_("List"), required=False, help_text=_("for “joined” and “confirmed”")
    )
    segment = forms.ChoiceField(
        label=_("Segment"), required=False, help_text=_("for “entered a segment”")
    )
    attribute = forms.CharField(
        label=_("Attribute"),
        required=False,
        max_length=100,
        help_text=_("for a yearly date: the attribute holding YYYY-MM-DD or MM-DD, e.g. birthday"),
    )
    local_hour = forms.IntegerField(
        label=_("Local hour"),
        min_value=0,
        max_value=23,
        initial=9,
        help_text=_("a yearly date starts at this hour in the subscriber's time zone"),
    )
    sender = forms.ChoiceField(
        label=_("Sender"), required=False, help_text=_("none: the local outbox")
    )
    from_email = forms.CharField(label=_("From address"), required=False, max_length=320)
    from_name = forms.CharField(label=_("From name"), required=False, max_length=200)
    enrol_existing = forms.BooleanField(
        label=_("Enrol existing members too"),
        required=False,
        help_text=_("without it, only people who trigger after activation enter"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, model in (
            ("mailing_list", MailingList),
            ("segment", Segment),
            ("sender", Sender),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = _names(model)

    def trigger_text(self) -> str:
        data = self.cleaned_data
        kind = data["trigger"]
        target = {
            "joined": data.get("mailing_list"),
            "confirmed": data.get("mailing_list"),
            "segment": data.get("segment"),
            "date": data.get("attribute"),
        }.get(kind)
        return f"{kind}:{target or ''}" if kind != "api" else "api"


class StepForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Step"), choices=[(k, Step.Kind(k).label) for k in services.BUILT_KINDS]
    )
    wait = forms.CharField(
        label=_("Wait first"),
        initial="0",
        max_length=40,
        help_text=_("e.g. 3d, 12h, 1d12h, 90m; 0: none"),
    )
    wait_time = forms.CharField(
        label=_("Then until"),
        required=False,
        max_length=8,
        help_text=_("a local time, e.g. 09:00"),
    )
    wait_weekdays = forms.CharField(
        label=pgettext_lazy("the weekdays of a wait", "On"),
        required=False,
        max_length=40,
        help_text=_("e.g. mon,tue,wed,thu,fri; empty: any day"),
    )
    subject = forms.CharField(
        label=_("Subject"), required=False, max_length=998, help_text=_("send steps")
    )
    body_format = forms.ChoiceField(label=_("Format"), choices=Campaign.Format.choices)
    body = forms.CharField(
        label=_("Body"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "code"}),
        help_text=_("send steps; {{ subscriber.name }} and every attribute, as in campaigns"),
    )
    tag = forms.CharField(
        label=_("Tag"), required=False, max_length=100, help_text=_("tag and untag steps")
    )
    mailing_list = forms.ChoiceField(label=_("List"), required=False, help_text=_("list steps"))
    condition = forms.ChoiceField(
        label=_("Branch if"),
        required=False,
        choices=[
            ("", "—"),
            ("opened", _("opened a send step")),
            ("clicked", _("clicked in a send step")),
            ("attribute", _("an attribute has a value")),
            ("segment", _("is in a segment")),
        ],
    )
    condition_step = forms.IntegerField(label=_("Send step"), required=False, min_value=1)
    condition_name = forms.CharField(label=_("Attribute"), required=False, max_length=100)
    condition_value = forms.CharField(label=_("Value"), required=False, max_length=200)
    condition_segment = forms.ChoiceField(label=_("Segment"), required=False)
    goto = forms.IntegerField(
        label=_("Then go to step"),
        required=False,
        min_value=0,
        help_text=_("0 or empty: leave"),
    )
    endpoint = forms.ChoiceField(
        label="Webhook endpoint", required=False, help_text="webhook steps"
    )
    window_start = CampaignForm.base_fields["window_start"]
    window_end = CampaignForm.base_fields["window_end"]
    window_weekdays = CampaignForm.base_fields["window_weekdays"]
    window_timezone = CampaignForm.base_fields["window_timezone"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, model in (
            ("mailing_list", MailingList),
            ("condition_segment", Segment),
            ("endpoint", Endpoint),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = _names(model)
        self.window_field_names = STEP_WINDOW_FIELDS

    def fields_but_window(self) -> list:
        """The step's own fields; the template shows the window's in their fieldset."""
        return [self[name] for name in self.fields if name not in STEP_WINDOW_FIELDS]

    def values(self) -> dict[str, Any]:
        """What services.add_step / edit_step take."""
        d = self.cleaned_data
        condition: dict[str, Any] = {"if": d.get("condition") or ""}
        if d.get("condition") in ("opened", "clicked"):
            condition["step"] = d.get("condition_step")
        elif d.get("condition") == "attribute":
            condition.update(name=d.get("condition_name"), value=d.get("condition_value"))
        elif d.get("condition") == "segment":
            condition["segment"] = d.get("condition_segment")
        return {
            "wait": d.get("wait") or "0",
            "wait_time": d.get("wait_time") or "",
            "wait_weekdays": d.get("wait_weekdays") or "",
            "subject": d.get("subject") or "",
            "body": d.get("body") or "",
            "body_format": d.get("body_format"),
            "tag": d.get("tag") or "",
            "mailing_list": d.get("mailing_list") or None,
            "condition": condition,
            "goto": d.get("goto") or 0,
            "endpoint": d.get("endpoint") or None,
            **self._window(),
        }

    def _window(self) -> dict[str, Any]:
        """Only a send step has a window: other kinds ignore what the fieldset holds."""
        d = self.cleaned_data
        if d.get("kind") != Step.Kind.SEND:
            return {}
        days = d.get("window_weekdays") or []
        return {
            "window_start": d.get("window_start"),
            "window_end": d.get("window_end"),
            "window_days": sum(1 << windows.DAYS.index(day) for day in days)
            if d.get("window_start")
            else windows.EVERY_DAY,
            "window_timezone": d.get("window_timezone") or "",
        }

    @classmethod
    def initial_for(cls, step: Step) -> dict[str, Any]:
        c = step.condition or {}
        segment = Segment.objects.filter(pk=c.get("segment") or 0).first()
        return {
            "kind": step.kind,
            "wait": waits.describe_duration(step.wait_seconds),
            "wait_time": f"{step.wait_time:%H:%M}" if step.wait_time else "",
            "wait_weekdays": ",".join(
                waits.WEEKDAYS[int(d)] for d in step.wait_weekdays.split(",") if d
            ),
            "subject": step.subject,
            "body": step.body,
            "body_format": step.body_format,
            "tag": step.tag,
            "mailing_list": step.mailing_list.name if step.mailing_list else "",
            "condition": c.get("if", ""),
            "condition_step": c.get("step"),
            "condition_name": c.get("name", ""),
            "condition_value": c.get("value", ""),
            "condition_segment": segment.name if segment else "",
            "goto": step.goto,
            "endpoint": step.endpoint.name if step.endpoint else "",
            "window_start": step.window_start,
            "window_end": step.window_end,
            "window_weekdays": windows.day_names(step.window_days),
            "window_timezone": step.window_timezone,
        }
