from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "postroom.alerts"
    label = "alerts"
