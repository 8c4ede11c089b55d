from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "postroom.campaigns"
    label = "campaigns"
