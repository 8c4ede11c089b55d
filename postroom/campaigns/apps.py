from django.apps import AppConfig
from django.utils.translation import gettext, ngettext

from postroom.mail import language


class CampaignsConfig(AppConfig):
    name = "postroom.campaigns"
    label = "campaigns"

    def ready(self) -> None:
        """Give the Django-free mail core Django's translator.

        Here rather than in delivery or media: campaigns is the app that feeds the
        mail core (campaigns' templates, layouts and specs are compiled there, and its
        template errors are the refusals pages show most), and every process that
        uses the mail core loads it. The mail core itself never imports Django.
        """
        language.install(gettext, ngettext)
