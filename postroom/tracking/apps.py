from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "postroom.tracking"
    label = "tracking"

    def ready(self) -> None:
        from postroom.tracking.activity import register_segment_fields

        register_segment_fields()
