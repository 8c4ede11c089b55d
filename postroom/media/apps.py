from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "postroom.media"
    label = "media"
    verbose_name = "Media library"
