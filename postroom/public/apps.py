from django.apps import AppConfig


class PublicConfig(AppConfig):
    name = "postroom.public"
    label = "public"
