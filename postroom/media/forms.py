"""The campaign form's attachments, a form of their own (a prefix keeps its fields apart),
so the campaign form itself does not change."""

from django import forms
from django.utils.translation import gettext_lazy as _

from postroom.media.models import CampaignAttachment, MediaFile


class FileChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: MediaFile) -> str:
        return obj.name


class AttachmentsForm(forms.Form):
    prefix = "attach"
    attached = FileChoice(
        queryset=MediaFile.objects.filter(kind=MediaFile.Kind.FILE).order_by("name", "id"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Attachments"),
        help_text=_("Sent with every message of the campaign."),
    )

    def __init__(self, *args, campaign=None, **kwargs):
        super().__init__(*args, **kwargs)
        if campaign is not None and campaign.pk and not self.is_bound:
            self.initial["attached"] = list(
                CampaignAttachment.objects.filter(campaign=campaign).values_list(
                    "media_id", flat=True
                )
            )

    def chosen(self) -> list[MediaFile]:
        return list(self.cleaned_data.get("attached") or [])
