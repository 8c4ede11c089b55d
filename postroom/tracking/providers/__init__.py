"""Provider webhooks for bounces and complaints: one module per provider, registered here.

Each module has `NAME`, `enabled()` (its secret is set; otherwise its endpoint is a
404) and `receive(headers, body) -> list[Event]` (providers.base), which refuses a
forged request with `Forged` before reading a single event.
"""

from types import ModuleType

from postroom.tracking.providers import mailgun, postmark, sendgrid, ses, sparkpost

PROVIDERS: dict[str, ModuleType] = {
    module.NAME: module for module in (ses, sendgrid, postmark, mailgun, sparkpost)
}
