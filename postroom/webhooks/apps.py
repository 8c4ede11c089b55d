from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "postroom.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        # Signal receivers and the sender step need the models: after app loading.
        from postroom import background
        from postroom.webhooks import sender, triggers

        triggers.connect()
        background.register("webhooks", sender.background_step)
