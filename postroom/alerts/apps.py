from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "postroom.alerts"
    label = "alerts"

    def ready(self) -> None:
        # Imported here, once the apps are loaded: the mail path needs delivery's models.
        from postroom.alerts import mail, services

        services.raised.connect(mail.on_raised, dispatch_uid="alerts.mail")
