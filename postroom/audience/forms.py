"""Forms for the audience screens; they only parse input, services do the work."""

import json

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from postroom.audience import signup_settings
from postroom.audience.models import MailingList
from postroom.audience.services import clean_list_name
from postroom.errors import InvalidInput
from postroom.http import holds_nul


class JSONObjectField(forms.CharField):
    """A textarea holding a JSON object (subscriber attributes)."""

    widget = forms.Textarea(attrs={"rows": 5, "class": "code"})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, indent=2, ensure_ascii=False)
        return value

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise forms.ValidationError('Write an object, e.g. {"plan": "pro"}.')
        if holds_nul(data):
            raise forms.ValidationError("Text may not contain NUL characters (\\u0000).")
        return data


class SubscriberForm(forms.Form):
    email = forms.CharField(max_length=320, widget=forms.EmailInput(attrs={"autofocus": True}))
    name = forms.CharField(max_length=255, required=False)
    lists = forms.ModelMultipleChoiceField(
        MailingList.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    attributes = JSONObjectField(required=False, help_text='Custom fields, e.g. {"plan": "pro"}')


class SubscriberEditForm(forms.Form):
    name = forms.CharField(max_length=255, required=False)
    tags = forms.CharField(required=False, help_text="Comma-separated.")
    attributes = JSONObjectField(required=False)

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]


class ListForm(forms.ModelForm):
    public = forms.BooleanField(
        required=False,
        label=_("Public"),
        help_text=_("Public lists are offered on subscription and preference pages."),
    )
    origins = forms.CharField(
        required=False,
        label=_("Websites allowed to post sign-ups"),
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "https://example.org"}),
        help_text=_("One per line. Pages on these sites may sign people up from a browser."),
    )
    fields_json = forms.CharField(
        required=False,
        label=_("Custom form fields"),
        widget=forms.Textarea(attrs={"rows": 3, "class": "code"}),
        help_text=_(
            'JSON, e.g. [{"name": "plan", "label": "Plan", "type": "choice", '
            '"required": true, "choices": ["free", "pro"]}]. Types: text, number, checkbox, '
            "choice, date. Stored as subscriber attributes."
        ),
    )

    language = forms.ChoiceField(
        required=False,
        label=_("Language"),
        help_text=_(
            "Of its sign-up form, confirmation emails and archive. Subscribers whose own "
            "language is known still get theirs."
        ),
    )

    class Meta:
        model = MailingList
        fields = ["name", "description", "optin", "captcha", "language"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        labels = {
            "name": _("Name"),
            "description": _("Description"),
            "optin": _("Opt-in"),
            "captcha": _("Captcha on sign-ups"),
        }
        help_texts = {
            "captcha": _("A proof-of-work puzzle the visitor's browser solves; no third party.")
        }

    def clean_name(self) -> str:
        try:
            return clean_list_name(self.cleaned_data.get("name"))
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc).capitalize() + ".") from None

    def clean_origins(self) -> list[str]:
        try:
            return signup_settings.clean_origins(self.cleaned_data["origins"].splitlines())
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc).capitalize() + ".") from None

    def clean_fields_json(self) -> list:
        text = self.cleaned_data["fields_json"].strip()
        try:
            return signup_settings.clean_form_fields(json.loads(text) if text else [])
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}") from None
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc).capitalize() + ".") from None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        language = self.fields["language"]
        assert isinstance(language, forms.ChoiceField)
        language.choices = [("", _("Each reader's own")), *settings.LANGUAGES]
        self.fields["public"].initial = self.instance.is_public if self.instance.pk else False
        if self.instance.pk:
            self.fields["origins"].initial = "\n".join(self.instance.allowed_origins)
            fields = self.instance.form_fields
            self.fields["fields_json"].initial = (
                json.dumps(fields, indent=2, ensure_ascii=False) if fields else ""
            )

    def save(self, commit: bool = True) -> MailingList:
        self.instance.visibility = (
            MailingList.Visibility.PUBLIC
            if self.cleaned_data["public"]
            else MailingList.Visibility.PRIVATE
        )
        self.instance.allowed_origins = self.cleaned_data["origins"]
        self.instance.form_fields = self.cleaned_data["fields_json"]
        return super().save(commit)
