from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "postroom.delivery"
    label = "delivery"

    def ready(self) -> None:
        # Signal receivers connect once the app registry is ready (erasure reads models).
        from postroom.audience.signals import subscribers_erasing
        from postroom.delivery.erasure import forget_erased

        subscribers_erasing.connect(forget_erased, dispatch_uid="delivery.forget_erased")
