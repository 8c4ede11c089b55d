"""The branding form of the Settings page and of a list's page; the checks live in branding."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from postroom.errors import InvalidInput
from postroom.public import branding
from postroom.public.models import Branding


class BrandingForm(forms.Form):
    name = forms.CharField(
        required=False,
        max_length=branding.MAX_NAME,
        label=_("Name"),
        help_text=_("Shown at the top of the public pages, e.g. your organisation."),
    )
    logo_url = forms.CharField(
        required=False,
        max_length=branding.MAX_URL,
        label=_("Logo URL"),
        widget=forms.URLInput(attrs={"placeholder": "https://example.org/logo.png"}),
        help_text=_("An https:// address of an image; shown at most 40 pixels high."),
    )
    colour = forms.CharField(
        required=False,
        max_length=7,
        label=_("Colour"),
        widget=forms.TextInput(attrs={"placeholder": "#1f6feb", "size": 8, "spellcheck": "false"}),
        help_text=_(
            "#rrggbb, for the top bar and the main buttons; the text on it is white or"
            " black, whichever reads better."
        ),
    )
    postal_address = forms.CharField(
        required=False,
        label=_("Postal address"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Plain text, at the foot of every public page (anti-spam laws ask for one)."),
    )

    def __init__(self, *args, inherit: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if inherit:  # a list's form: empty means the installation's value
            for field in self.fields.values():
                field.help_text = format_lazy(
                    "{} {}", field.help_text, _("Empty: as the installation.")
                )

    @classmethod
    def of(cls, row: Branding, data=None, inherit: bool = False) -> "BrandingForm":
        initial = {name: getattr(row, name) for name in branding.FIELDS}
        return cls(data, initial=initial, inherit=inherit)

    def _checked(self, name: str) -> str:
        try:
            return branding.CLEANERS[name](self.cleaned_data.get(name, ""))
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_name(self) -> str:
        return self._checked("name")

    def clean_logo_url(self) -> str:
        return self._checked("logo_url")

    def clean_colour(self) -> str:
        return self._checked("colour")

    def clean_postal_address(self) -> str:
        return self._checked("postal_address")
