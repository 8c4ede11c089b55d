from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "postroom.delivery"
    label = "delivery"

    def ready(self) -> None:
        from postroom.audience.signals import subscribers_erasing
        from postroom.delivery.erasure import forget_erased

        subscribers_erasing.connect(forget_erased, dispatch_uid="delivery.forget_erased")
