from django.apps import AppConfig


class TransactionalConfig(AppConfig):
    name = "postroom.transactional"
    label = "transactional"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The engine builds each transactional row's own message through this hook
        # (delivery.batches.row_builders), so delivery never imports this app.
        from postroom.audience.signals import subscribers_erasing
        from postroom.campaigns.models import Campaign
        from postroom.delivery import batches
        from postroom.transactional.erasure import forget_erased
        from postroom.transactional.glue import build_rows

        batches.row_builders[Campaign.Kind.TRANSACTIONAL] = build_rows
        subscribers_erasing.connect(forget_erased, dispatch_uid="transactional.forget_erased")
