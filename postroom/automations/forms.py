"""The sequence pages' forms: plain fields; `automations.services` does the checking."""

from typing import Any

from django import forms

from postroom.audience.models import MailingList, Segment
from postroom.automations import services, waits
from postroom.automations.models import Automation, Step
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Sender


def _names(model) -> list[tuple[str, str]]:
    return [("", "—")] + [(n, n) for n in model.objects.values_list("name", flat=True)]


class AutomationForm(forms.Form):
    name = forms.CharField(max_length=200)
    trigger = forms.ChoiceField(
        label="Who enters", choices=Automation.Trigger.choices, initial="joined"
    )
    mailing_list = forms.ChoiceField(
        label="List", required=False, help_text="for “joined” and “confirmed”"
    )
    segment = forms.ChoiceField(required=False, help_text="for “entered a segment”")
    attribute = forms.CharField(
        required=False,
        max_length=100,
        help_text="for a yearly date: the attribute holding YYYY-MM-DD or MM-DD, e.g. birthday",
    )
    local_hour = forms.IntegerField(
        label="Local hour",
        min_value=0,
        max_value=23,
        initial=9,
        help_text="a yearly date starts at this hour in the subscriber's time zone",
    )
    sender = forms.ChoiceField(required=False, help_text="none: the local outbox")
    from_email = forms.CharField(label="From address", required=False, max_length=320)
    from_name = forms.CharField(label="From name", required=False, max_length=200)
    enrol_existing = forms.BooleanField(
        label="Enrol existing members too",
        required=False,
        help_text="without it, only people who trigger after activation enter",
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
        label="Step", choices=[(k, Step.Kind(k).label) for k in services.BUILT_KINDS]
    )
    wait = forms.CharField(
        label="Wait first",
        initial="0",
        max_length=40,
        help_text="e.g. 3d, 12h, 1d12h, 90m; 0: none",
    )
    wait_time = forms.CharField(
        label="Then until", required=False, max_length=8, help_text="a local time, e.g. 09:00"
    )
    wait_weekdays = forms.CharField(
        label="On",
        required=False,
        max_length=40,
        help_text="e.g. mon,tue,wed,thu,fri; empty: any day",
    )
    subject = forms.CharField(required=False, max_length=998, help_text="send steps")
    body_format = forms.ChoiceField(label="Format", choices=Campaign.Format.choices)
    body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "code"}),
        help_text="send steps; {{ subscriber.name }} and every attribute, as in campaigns",
    )
    tag = forms.CharField(required=False, max_length=100, help_text="tag and untag steps")
    mailing_list = forms.ChoiceField(label="List", required=False, help_text="list steps")
    condition = forms.ChoiceField(
        label="Branch if",
        required=False,
        choices=[
            ("", "—"),
            ("opened", "opened a send step"),
            ("clicked", "clicked in a send step"),
            ("attribute", "an attribute has a value"),
            ("segment", "is in a segment"),
        ],
    )
    condition_step = forms.IntegerField(label="Send step", required=False, min_value=1)
    condition_name = forms.CharField(label="Attribute", required=False, max_length=100)
    condition_value = forms.CharField(label="Value", required=False, max_length=200)
    condition_segment = forms.ChoiceField(label="Segment", required=False)
    goto = forms.IntegerField(
        label="Then go to step", required=False, min_value=0, help_text="0 or empty: leave"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, model in (("mailing_list", MailingList), ("condition_segment", Segment)):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = _names(model)

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
        }
