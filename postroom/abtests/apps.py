from django.apps import AppConfig


class ABTestsConfig(AppConfig):
    name = "postroom.abtests"
    label = "abtests"

    def ready(self) -> None:
        # Once the app registry is ready: the narrower and the step read the models; the
        # ledger takes the narrower as a hook, so delivery never imports this app.
        from postroom import background
        from postroom.abtests import audience, services
        from postroom.delivery import ledger

        ledger.narrow_with(audience.narrow)
        background.register("abtests", services.background_step)
