from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who works in Postroom: roles, log-in throttling and the audit log."""

    name = "postroom.accounts"
    label = "accounts"

    def ready(self) -> None:
        from postroom.accounts import signals  # noqa: F401  (connects the log-in receivers)
