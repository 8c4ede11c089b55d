from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "postroom.automations"
    label = "automations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The engine runs in every worker's side thread and builds its steps' rows
        # through the delivery hook, so delivery never imports this app.
        from postroom import background
        from postroom.automations import engine
        from postroom.automations.glue import build_rows
        from postroom.campaigns.models import Campaign
        from postroom.delivery import batches

        background.register("automations", engine.background_step, engine.pending)
        batches.row_builders[Campaign.Kind.AUTOMATION] = build_rows
