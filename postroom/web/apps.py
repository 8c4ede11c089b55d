from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "postroom.web"
    label = "web"
