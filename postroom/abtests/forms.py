"""The A/B test settings form: the test group, the metric, the window, each variant's share."""

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from postroom.abtests.models import ABTest, Variant
from postroom.campaigns.forms import time_zone_choices
from postroom.campaigns.services import parse_send_at


class ABTestForm(forms.Form):
    size_kind = forms.ChoiceField(
        choices=[("percent", _("percent of the audience")), ("count", _("people"))],
        label=_("Test group is counted in"),
    )
    size = forms.IntegerField(min_value=1, label=_("Test group size"))
    metric = forms.ChoiceField(choices=ABTest.Metric.choices, label=_("The winner is chosen by"))
    window_minutes = forms.IntegerField(
        min_value=1,
        label=_("Test window (minutes)"),
        help_text=_(
            "after it (and once every variant is sent) the winner goes to the rest; "
            "240 is four hours"
        ),
    )
    timezone = forms.ChoiceField(choices=time_zone_choices, label=_("Send times are in"))

    def __init__(self, *args: Any, test: ABTest, parts: list[Variant], **kwargs: Any) -> None:
        counted = test.test_count is not None
        kwargs.setdefault(
            "initial",
            {
                "size_kind": "count" if counted else "percent",
                "size": test.test_count if counted else test.test_percent,
                "metric": test.metric,
                "window_minutes": test.window_minutes,
                "timezone": test.campaign.send_at_timezone or "UTC",
                **{f"share_{v.label}": v.share for v in parts},
                **{
                    f"send_at_{v.label}": v.send_at.strftime("%Y-%m-%dT%H:%M")
                    for v in parts
                    if v.send_at
                },
            },
        )
        super().__init__(*args, **kwargs)
        self.labels = [v.label for v in parts]
        for label in self.labels:
            self.fields[f"share_{label}"] = forms.IntegerField(
                min_value=1,
                max_value=100,
                label=gettext("Variant %(label)s: share") % {"label": label},
            )
            self.fields[f"send_at_{label}"] = forms.CharField(
                required=False,
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                label=gettext("Variant %(label)s: send at") % {"label": label},
                help_text=_("empty: when the test starts"),
            )

    def service_fields(self) -> dict[str, Any]:
        """What update_test takes; a bad send time is an InvalidInput from the parser."""
        data = self.cleaned_data
        counted = data["size_kind"] == "count"
        send_times = {
            label: parse_send_at(data[f"send_at_{label}"], data["timezone"])[0]
            if data[f"send_at_{label}"]
            else None
            for label in self.labels
        }
        size = {"test_count": data["size"]} if counted else {
            "test_count": None, "test_percent": data["size"]}  # fmt: skip
        return {
            **size,
            "metric": data["metric"],
            "window_minutes": data["window_minutes"],
            "shares": {label: data[f"share_{label}"] for label in self.labels},
            "send_times": send_times,
        }
