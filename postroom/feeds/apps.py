from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "postroom.feeds"
    label = "feeds"

    def ready(self) -> None:
        # Registered once the app registry is ready: the step reads the models.
        from postroom import background
        from postroom.feeds import services

        background.register("feeds", services.background_step)
