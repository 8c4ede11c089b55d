from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "postroom.audience"
    label = "audience"
