"""Sending queued webhook deliveries: a worker's side thread, never its send path.

Each POST has a bounded time (POSTROOM_WEBHOOK_TIMEOUT_SECONDS, 5 s by default,
for connecting and for each read), follows no redirect and reads at most a
few hundred bytes of the answer. A 2xx delivers; anything else (another
status, a timeout, a refused connection) is retried after BACKOFF — 30 s,
then doubling to 6 h, about two days in all — and then the delivery is marked
failed and stays in the log. An endpoint that failed once in a pass is left
alone for the rest of that pass, so a dead one costs one timeout per pass,
not one per event waiting for it.

Rows are held by moving their due time forward (a lease) with a conditional
update, so several workers share the queue and a worker killed mid-POST
loses nothing: the row comes due again and is sent again (receivers drop a
repeat by the event id in `Postroom-Webhook-Id`).
"""

import http.client
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from postroom import outbound
from postroom.webhooks import signing
from postroom.webhooks.models import Endpoint, WebhookAttempt, WebhookDelivery

log = logging.getLogger("postroom.webhooks")

BACKOFF_FIRST = 30.0
BACKOFF_MAX = 6 * 3600.0
MAX_ATTEMPTS = 14  # 30 s doubling to 6 h: about 52 h from the first try to the last
READ_LIMIT = 300  # bytes of an answer kept for the log
USER_AGENT = "Postroom-Webhooks/1"
State = WebhookDelivery.State


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer at all
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


_opener = outbound.opener(follow_redirects=False)


def timeout() -> float:
    return float(settings.POSTROOM_WEBHOOK_TIMEOUT_SECONDS)


def post(endpoint: Endpoint, delivery: WebhookDelivery, now: float | None = None) -> Answer:
    """One signed POST of `delivery` to `endpoint`; never raises."""
    body = delivery.body.encode()
    stamp = int(time.time() if now is None else now)
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.HEADER_ID: delivery.event_id,
            signing.HEADER_EVENT: delivery.event,
            signing.HEADER_TIMESTAMP: str(stamp),
            signing.HEADER_SIGNATURE: signing.signature(endpoint.secret, stamp, body),
        },
    )
    started = time.monotonic()
    status, error = None, ""
    try:
        with _opener.open(request, timeout=timeout()) as response:
            status = response.status
            response.read(READ_LIMIT)
    except urllib.error.HTTPError as exc:  # an answer, only not a 2xx
        status = exc.code
        try:
            error = exc.read(READ_LIMIT).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException):
            error = ""
        error = f"HTTP {exc.code} {exc.reason}" + (f": {error}" if error else "")
    except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            error = f"no answer within {timeout():g} s"
        else:
            error = f"could not connect: {reason}"
    except ValueError as exc:  # a URL urllib cannot use
        error = f"bad URL: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    return Answer(status, error[:500], duration)


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failure."""
    return min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_MAX)


def attempt(delivery: WebhookDelivery, now: float | None = None) -> Answer:
    """POST one delivery now and record what happened (its log row, its next try)."""
    now = time.time() if now is None else now
    answer = post(delivery.endpoint, delivery, now)
    WebhookAttempt.objects.create(
        delivery=delivery, status=answer.status, error=answer.error, duration_ms=answer.duration_ms
    )
    attempts = delivery.attempts + 1
    fields: dict = {"attempts": attempts, "last_status": answer.status, "last_error": answer.error}
    if answer.ok:
        fields.update(state=State.DELIVERED, delivered_at=timezone.now(), last_error="")
    elif attempts >= MAX_ATTEMPTS:
        fields.update(state=State.FAILED)
    else:
        fields.update(next_attempt_at=now + backoff(attempts))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)
    return answer


def deliver_due(limit: int = 20, now: float | None = None) -> int:
    """Send what is due (the side thread's step); how many POSTs were made."""
    now = time.time() if now is None else now
    due = list(
        WebhookDelivery.objects.filter(
            state=State.PENDING, next_attempt_at__lte=now, endpoint__active=True
        )
        .select_related("endpoint")
        .order_by("next_attempt_at", "pk")[:limit]
    )
    failing: set[int] = set()
    made = 0
    for delivery in due:
        if delivery.endpoint_id in failing:
            continue
        # Held for longer than a POST can take; if this worker dies, another sends it then.
        lease = now + 3 * timeout() + 30
        held = WebhookDelivery.objects.filter(
            pk=delivery.pk, state=State.PENDING, next_attempt_at=delivery.next_attempt_at
        ).update(next_attempt_at=lease)
        if held != 1:
            continue
        made += 1
        if not attempt(delivery, now=time.time()).ok:
            failing.add(delivery.endpoint_id)
    return made


def background_step() -> bool:
    return deliver_due() > 0
