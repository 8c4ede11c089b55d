from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "postroom.tracking"
    label = "tracking"
