from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "postroom.tracking"
    label = "tracking"

    def ready(self) -> None:
        # Registered once the app registry is ready: both read the models.
        from postroom import background
        from postroom.tracking import signups
        from postroom.tracking.activity import register_segment_fields

        register_segment_fields()
        background.register("signups", signups.background_step)
