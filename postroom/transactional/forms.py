"""The template editor's form: plain fields; transactional.templates does the checking."""

from django import forms

from postroom.campaigns.models import Layout
from postroom.delivery.models import Sender
from postroom.transactional.models import TxTemplate


def _choices(model) -> list[tuple[str, str]]:
    return [("", "—")] + [(n, n) for n in model.objects.values_list("name", flat=True)]


class TxTemplateForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="what shops and scripts call it by")
    subject = forms.CharField(max_length=998)
    body_format = forms.ChoiceField(label="Format", choices=TxTemplate.Format.choices)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 16, "class": "code"}),
        help_text="{{ data.… }} is what the request sends; {{ to.email }}, {{ to.name }} and "
        "{{ subscriber.first_name }} are the recipient.",
    )
    layout = forms.ChoiceField(required=False, help_text="none: the body alone")
    from_address = forms.CharField(
        label="From", required=False, max_length=600, help_text='"Name <address>" or an address'
    )
    sender = forms.ChoiceField(
        required=False, help_text="the sender used when the request names none"
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        layout = self.fields["layout"]
        sender = self.fields["sender"]
        assert isinstance(layout, forms.ChoiceField) and isinstance(sender, forms.ChoiceField)
        layout.choices = _choices(Layout)
        sender.choices = _choices(Sender)

    @classmethod
    def initial_for(cls, template: TxTemplate) -> dict:
        address = template.from_email
        if template.from_name:
            address = f"{template.from_name} <{address}>"
        return {
            "name": template.name,
            "subject": template.subject,
            "body_format": template.body_format,
            "body": template.body,
            "layout": template.layout.name if template.layout else "",
            "from_address": address,
            "sender": template.sender.name if template.sender else "",
        }
