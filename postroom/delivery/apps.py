from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "postroom.delivery"
    label = "delivery"
