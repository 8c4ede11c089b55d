"""Defining sequences: create, add and edit steps, activate and pause, report, enrol by API.

Every function checks all of its input before it writes, so a refusal changes
nothing; the CLI, the API and the web UI all call these (the engine that moves
people along is `engine`).
"""

import csv
import io
import re
from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from postroom.audience import services as audience
from postroom.audience.eligibility import mailable_anyone, mailable_subscribers
from postroom.audience.models import MailingList, Segment, Subscriber
from postroom.automations import stepwindows, waits
from postroom.automations import texts as T
from postroom.automations.models import Automation, Enrolment, Step, StepCampaign
from postroom.campaigns import lifecycle
from postroom.campaigns.models import Campaign
from postroom.campaigns.services import default_from_email
from postroom.campaigns.spec import compiled_for
from postroom.delivery import scheduler
from postroom.delivery.models import Delivery, Sender
from postroom.errors import Conflict, InvalidInput, NotFound, PostroomError
from postroom.webhooks.models import Endpoint
from postroom.webhooks.services import get_endpoint

FORMATS = [f.value for f in Campaign.Format]
ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# Step kinds a person can be given (every kind the model knows).
BUILT_KINDS = list(Step.Kind.values)
BRANCH_CONDITIONS = ("opened", "clicked", "attribute", "segment")
# What editing a live sequence does to people already in it (shown in the UI and docs).
LIVE_EDIT_WARNING = _(
    "This sequence is live. People already in it keep their place: whoever has passed a step"
    " is not sent it again, whoever has not reached it yet gets the new version, and a person"
    " now waiting keeps the wait they started (a new wait applies from their next step)."
    " Messages already queued for a step are sent with the new subject and body."
)


def get(ident: int | str) -> Automation:
    try:
        return Automation.objects.select_related("mailing_list", "segment", "sender").get(
            pk=int(ident)
        )
    except (ValueError, Automation.DoesNotExist):
        raise NotFound(gettext("no automation with id %(ident)s") % {"ident": ident}) from None


def parse_trigger(raw: str) -> dict[str, Any]:
    """`joined:LIST`, `confirmed:LIST`, `segment:NAME`, `date:ATTRIBUTE` or `api` → fields."""
    kind, _, target = raw.partition(":")
    kind, target = kind.strip().lower(), target.strip()
    if kind not in Automation.Trigger.values:
        raise InvalidInput(
            gettext(
                "a trigger is joined:LIST, confirmed:LIST, segment:NAME, date:ATTRIBUTE or "
                "api, not %(raw)s"
            )
            % {"raw": repr(raw)}
        )
    if kind == Automation.Trigger.API:
        if target:
            raise InvalidInput(gettext("the api trigger takes no name"))
        return {"trigger": kind}
    if not target:
        raise InvalidInput(
            gettext("the %(kind)s trigger needs a name: %(kind)s:NAME") % {"kind": kind}
        )
    if kind in (Automation.Trigger.JOINED, Automation.Trigger.CONFIRMED):
        return {"trigger": kind, "mailing_list": audience.get_list(target)}
    if kind == Automation.Trigger.SEGMENT:
        return {"trigger": kind, "segment": audience.get_segment(target)}
    if not ATTRIBUTE.match(target):
        raise InvalidInput(
            gettext("an attribute name is letters, digits and _, not %(target)s")
            % {"target": repr(target)}
        )
    return {"trigger": kind, "attribute": target}


def _sender(name: str | None) -> Sender | None:
    if not name:
        return None
    found = Sender.objects.filter(name=name).first()
    if found is None:
        raise NotFound(gettext("no sender named %(name)s") % {"name": repr(name)})
    return found


def create(
    *,
    name: str,
    trigger: str,
    sender: str | None = None,
    from_email: str = "",
    from_name: str = "",
    local_hour: int = 9,
    enrol_existing: bool = False,
) -> Automation:
    """A new draft sequence; nothing is saved when any part is wrong."""
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InvalidInput(gettext("a sequence needs a name of 1 to 200 characters"))
    if Automation.objects.filter(name=name).exists():
        raise Conflict(
            gettext("an automation named %(name)s already exists") % {"name": repr(name)}
        )
    fields = parse_trigger(trigger)
    chosen = _sender(sender)
    from_email = (from_email or "").strip() or default_from_email(chosen)
    _check_from(from_email)
    if not 0 <= local_hour <= 23:
        raise InvalidInput(gettext("the local hour of a date trigger is 0 to 23"))
    try:
        return Automation.objects.create(
            name=name,
            sender=chosen,
            from_email=from_email,
            from_name=(from_name or "").strip()[:200],
            local_hour=local_hour,
            enrol_existing=enrol_existing,
            **fields,
        )
    except IntegrityError:
        raise Conflict(
            gettext("an automation named %(name)s already exists") % {"name": repr(name)}
        ) from None


def _check_from(address: str) -> None:
    if "@" not in address or any(c.isspace() for c in address) or len(address) > 320:
        raise InvalidInput(
            gettext("not an email address: %(address)s") % {"address": repr(address)}
        )


def update(automation: Automation, **changes: Any) -> Automation:
    """Change the name, sender, From or enrol-existing of a sequence (the trigger of a draft)."""
    if "name" in changes:
        name = " ".join((changes["name"] or "").split())
        if not name or len(name) > 200:
            raise InvalidInput(gettext("a sequence needs a name of 1 to 200 characters"))
        if Automation.objects.filter(name=name).exclude(pk=automation.pk).exists():
            raise Conflict(
                gettext("an automation named %(name)s already exists") % {"name": repr(name)}
            )
        changes["name"] = name
    if "from_email" in changes:
        _check_from(changes["from_email"].strip())
    if "trigger" in changes:
        if automation.status != Automation.Status.DRAFT:
            raise InvalidInput(gettext("the trigger of a sequence that has run cannot change"))
        changes.update(parse_trigger(changes.pop("trigger")))
    for field, value in changes.items():
        setattr(automation, field, value)
    automation.save()
    return automation


def _step_fields(automation: Automation, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """Checked fields for a step of `kind` (InvalidInput names the first problem)."""
    if kind not in BUILT_KINDS:
        raise InvalidInput(
            gettext("a step is one of %(kinds)s, not %(kind)s")
            % {"kinds": ", ".join(BUILT_KINDS), "kind": repr(kind)}
        )
    wait = values.get("wait", "")
    at = values.get("wait_time")
    if isinstance(at, str):
        try:
            at = time.fromisoformat(at.strip()) if at.strip() else None
        except ValueError:
            raise InvalidInput(
                gettext("a time of day looks like 09:00, not %(at)s") % {"at": repr(at)}
            ) from None
    fields: dict[str, Any] = {
        "kind": kind,
        "wait_seconds": wait if isinstance(wait, int) else waits.parse_duration(wait or "0"),
        "wait_weekdays": waits.parse_weekdays(values.get("wait_weekdays") or ""),
        "wait_time": at,
        "subject": "",
        "body": "",
        "body_format": Campaign.Format.MARKDOWN,
        "tag": "",
        "mailing_list": None,
        "condition": {},
        "goto": None,
        "endpoint": None,
        **stepwindows.NO_WINDOW,
    }
    if fields["wait_weekdays"] and at is None:
        raise InvalidInput(gettext("waiting until a weekday needs a time of day too"))
    if kind == Step.Kind.SEND:
        subject = (values.get("subject") or "").strip()
        body = values.get("body") or ""
        body_format = values.get("body_format") or Campaign.Format.MARKDOWN
        if not subject or len(subject) > 998:
            raise InvalidInput(gettext("a send step needs a subject of 1 to 998 characters"))
        if not body.strip():
            raise InvalidInput(gettext("a send step needs a body"))
        if body_format not in FORMATS:
            raise InvalidInput(
                gettext("the format is one of %(formats)s, not %(format)s")
                % {"formats": ", ".join(FORMATS), "format": repr(body_format)}
            )
        probe = Campaign(
            subject=subject,
            body=body,
            body_format=body_format,
            from_email=automation.from_email,
            from_name=automation.from_name,
            sender=automation.sender,
        )
        try:
            compiled_for(probe)  # a broken template is refused here, not at the first send
        except PostroomError as exc:
            raise InvalidInput(
                gettext("the message cannot be built: %(error)s") % {"error": exc}
            ) from None
        fields.update(subject=subject, body=body, body_format=body_format)
        fields.update(stepwindows.fields(values))
    elif kind == Step.Kind.WEBHOOK:
        chosen = values.get("endpoint")
        if not chosen:
            raise InvalidInput(gettext("a webhook step needs the endpoint to call (by name)"))
        fields["endpoint"] = chosen if isinstance(chosen, Endpoint) else get_endpoint(str(chosen))
    elif kind in (Step.Kind.TAG, Step.Kind.UNTAG):
        tag = (values.get("tag") or "").strip()
        if not tag or len(tag) > 100:
            raise InvalidInput(gettext("a tag step needs a tag of 1 to 100 characters"))
        fields["tag"] = tag
    elif kind in (Step.Kind.ADD_LIST, Step.Kind.REMOVE_LIST):
        chosen = values.get("mailing_list")
        if not chosen:
            raise InvalidInput(gettext("choose the list"))
        fields["mailing_list"] = (
            chosen if isinstance(chosen, MailingList) else audience.get_list(str(chosen))
        )
    elif kind == Step.Kind.BRANCH:
        fields["condition"] = _condition(automation, values.get("condition") or {})
        goto = values.get("goto")
        try:
            fields["goto"] = int(goto) if goto not in (None, "") else 0
        except (TypeError, ValueError):
            raise InvalidInput(
                gettext("the step to go to is a number (0: leave), not %(goto)s")
                % {"goto": repr(goto)}
            ) from None
    return fields


def _condition(automation: Automation, raw: dict[str, Any]) -> dict[str, Any]:
    test = raw.get("if")
    if test in ("opened", "clicked"):
        try:
            position = int(raw.get("step") or 0)
        except (TypeError, ValueError):
            position = 0
        if not automation.steps.filter(position=position, kind=Step.Kind.SEND).exists():
            raise InvalidInput(
                gettext("'%(test)s' needs the number of an earlier send step") % {"test": test}
            )
        return {"if": test, "step": position}
    if test == "attribute":
        name = str(raw.get("name") or "").strip()
        if not ATTRIBUTE.match(name):
            raise InvalidInput(
                gettext("an attribute name is letters, digits and _, not %(name)s")
                % {"name": repr(name)}
            )
        return {"if": test, "name": name, "value": str(raw.get("value") or "")}
    if test == "segment":
        chosen = raw.get("segment")
        segment = (
            Segment.objects.filter(pk=int(str(chosen))).first()
            if isinstance(chosen, int) or str(chosen).isdigit()
            else Segment.objects.filter(name=chosen).first()
        )
        if segment is None:
            raise InvalidInput(gettext("no segment %(chosen)s") % {"chosen": repr(chosen)})
        return {"if": test, "segment": segment.pk}
    raise InvalidInput(
        gettext("a branch tests one of %(conditions)s")
        % {"conditions": ", ".join(BRANCH_CONDITIONS)}
    )


def add_step(automation: Automation, kind: str = Step.Kind.SEND, **values: Any) -> Step:
    """A new last step. Fields by kind: send (subject, body, body_format, and a window:
    window_start, window_end, window_days, window_timezone), tag/untag (tag),
    add_list/remove_list (mailing_list), branch (condition, goto), webhook (endpoint, a name
    or an Endpoint); every kind may wait first
    (wait: a duration, wait_weekdays and wait_time: until a local weekday and time)."""
    fields = _step_fields(automation, kind, values)
    with transaction.atomic():
        Automation.objects.select_for_update().get(pk=automation.pk)
        last = automation.steps.order_by("-position").values_list("position", flat=True).first()
        return Step.objects.create(automation=automation, position=(last or 0) + 1, **fields)


def edit_step(step: Step, **values: Any) -> Step:
    """Change a step in place; queued messages of a send step take the new content."""
    fields = _step_fields(step.automation, values.pop("kind", step.kind), values)
    with transaction.atomic():
        for field, value in fields.items():
            setattr(step, field, value)
        step.save()
        if step.kind == Step.Kind.SEND:
            ids = StepCampaign.objects.filter(step=step).values("campaign_id")
            Campaign.objects.filter(pk__in=ids).update(
                subject=step.subject,
                body=step.body,
                body_format=step.body_format,
                updated_at=timezone.now(),  # workers recompile on the new stamp
            )
            stepwindows.apply(step)
    return step


def get_step(automation: Automation, position: int | str) -> Step:
    try:
        return automation.steps.get(position=int(position))
    except (ValueError, Step.DoesNotExist):
        raise NotFound(
            gettext("automation %(automation)s has no step %(position)s")
            % {"automation": automation.pk, "position": position}
        ) from None


def _campaigns(automation: Automation) -> QuerySet[Campaign]:
    ids = StepCampaign.objects.filter(step__automation=automation).values("campaign_id")
    return Campaign.objects.filter(pk__in=ids)


def activate(automation: Automation, now: datetime | None = None) -> Automation:
    """Start (or resume) a sequence. The first time, who is already a member now is
    recorded as excluded (segment triggers; list and date triggers go by the time
    people joined, confirmed or reached their date), unless it enrols existing members."""
    now = now or timezone.now()
    if not automation.steps.exists():
        raise InvalidInput(
            gettext("automation %(automation)s has no steps yet") % {"automation": automation.pk}
        )
    with transaction.atomic():
        current = Automation.objects.select_for_update().get(pk=automation.pk)
        if current.status == Automation.Status.ACTIVE:
            raise InvalidInput(
                gettext("automation %(automation)s is already active")
                % {"automation": automation.pk}
            )
        first = current.activated_at is None
        Automation.objects.filter(pk=current.pk).update(
            status=Automation.Status.ACTIVE, activated_at=current.activated_at or now
        )
        if first and not current.enrol_existing and current.segment_id is not None:
            _exclude_members(current, now)
        for campaign in _campaigns(current).filter(status=Campaign.Status.PAUSED):
            lifecycle.move(campaign.pk, "resume", status_reason="")
    scheduler.notify()
    automation.refresh_from_db()
    return automation


def _exclude_members(automation: Automation, now: datetime) -> None:
    assert automation.segment is not None
    members = mailable_subscribers(None, automation.segment).values_list("pk", flat=True)
    rows = (
        Enrolment(
            automation=automation,
            subscriber_id=pk,
            state=Enrolment.State.EXCLUDED,
            reason=T.MEMBER_WHEN_ACTIVATED,
            entered_at=now,
            updated_at=now,
        )
        for pk in members.iterator(chunk_size=2000)
    )
    batch: list[Enrolment] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 2000:
            Enrolment.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Enrolment.objects.bulk_create(batch, ignore_conflicts=True)


def pause(automation: Automation) -> Automation:
    """Nobody moves on and queued messages wait; `activate` resumes both."""
    with transaction.atomic():
        moved = Automation.objects.filter(pk=automation.pk, status=Automation.Status.ACTIVE).update(
            status=Automation.Status.PAUSED
        )
        if not moved:
            raise InvalidInput(
                gettext("automation %(automation)s is %(status)s; not paused")
                % {"automation": automation.pk, "status": automation.status}
            )
        for campaign in _campaigns(automation).filter(status=Campaign.Status.RUNNING):
            lifecycle.move(campaign.pk, "pause", status_reason=T.SEQUENCE_PAUSED)
    scheduler.notify()
    automation.refresh_from_db()
    return automation


def enrol(automation: Automation, subscriber: Subscriber, now: datetime | None = None) -> Enrolment:
    """Put one person at the start of a sequence (the API trigger)."""
    now = now or timezone.now()
    if automation.status == Automation.Status.DRAFT:
        raise InvalidInput(
            gettext("automation %(automation)s is a draft; activate it first")
            % {"automation": automation.pk}
        )
    if not allowed(automation).filter(pk=subscriber.pk).exists():
        raise InvalidInput(
            gettext("%(email)s may not be mailed by this sequence") % {"email": subscriber.email}
        )
    first = automation.steps.order_by("position").first()
    if first is None:
        raise InvalidInput(
            gettext("automation %(automation)s has no steps") % {"automation": automation.pk}
        )
    zone = waits.zone_of(subscriber.attributes)
    try:
        with transaction.atomic():
            enrolment = Enrolment.objects.create(
                automation=automation,
                subscriber=subscriber,
                next_at=waits.wait_ends(
                    now, first.wait_seconds, first.wait_weekdays, first.wait_time, zone
                ),
                timed=True,
                entered_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise Conflict(
            gettext("%(email)s is already in this sequence") % {"email": subscriber.email}
        ) from None
    scheduler.notify()
    return enrolment


def allowed(automation: Automation) -> QuerySet[Subscriber]:
    """Who the sequence may mail now: its list's mailable members, or (no list) anyone
    active, unsuppressed and not unsubscribed from everything."""
    if automation.mailing_list_id is not None:
        return mailable_subscribers(MailingList.objects.filter(pk=automation.mailing_list_id or 0))
    return mailable_anyone()


def status(automation: Automation) -> dict[str, Any]:
    """What `automation status --json` prints: counts by state and per step."""
    states = dict(
        automation.enrolments.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )
    at = dict(
        automation.enrolments.filter(state=Enrolment.State.ACTIVE)
        .values_list("position")
        .annotate(n=Count("id"))
        .values_list("position", "n")
    )
    sent = dict(
        Delivery.objects.filter(
            campaign__automation_step__step__automation=automation, state=Delivery.State.SENT
        )
        .values_list("campaign__automation_step__step__position")
        .annotate(n=Count("id"))
        .values_list("campaign__automation_step__step__position", "n")
    )
    steps = [
        {
            "position": step.position,
            "kind": step.kind,
            "subject": step.subject,
            "wait": describe_wait(step),
            "waiting": at.get(step.position, 0),
            "sent": sent.get(step.position, 0),
            "text": describe_step(step),
            "window": stepwindows.window_of(step).as_dict(),
            "endpoint": step.endpoint.name if step.endpoint else None,
        }
        for step in automation.steps.select_related("mailing_list", "endpoint")
    ]
    return {
        "id": automation.pk,
        "name": automation.name,
        "status": automation.status,
        "trigger": automation.trigger_text,
        "enrolled": sum(n for s, n in states.items() if s != Enrolment.State.EXCLUDED),
        "active": states.get(Enrolment.State.ACTIVE, 0),
        "completed": states.get(Enrolment.State.COMPLETED, 0),
        "stopped": states.get(Enrolment.State.STOPPED, 0),
        "excluded": states.get(Enrolment.State.EXCLUDED, 0),
        "steps": steps,
        # Date triggers: scanned up to when, and the last stretch too old to catch up.
        "scanned_until": automation.scanned_until.isoformat() if automation.scanned_until else None,
        "skipped": automation.skipped or None,
    }


def describe_wait(step: Step) -> str:
    # In the reader's language on a page (gettext); the CLI activates none: English.
    parts = []
    if step.wait_seconds:
        parts.append(
            gettext("wait %(duration)s") % {"duration": waits.describe_duration(step.wait_seconds)}
        )
    if step.wait_time is not None:
        days = [waits.WEEKDAYS[int(d)].capitalize() for d in step.wait_weekdays.split(",") if d]
        when = "/".join(days) if days else gettext("any day")
        parts.append(
            gettext("until %(days)s %(time)s local time")
            % {"days": when, "time": f"{step.wait_time:%H:%M}"}
        )
    return gettext(", then ").join(parts)


def describe_step(step: Step) -> str:
    """One readable line for the step list."""
    kind = Step.Kind
    if step.kind == kind.SEND:
        what = gettext("send “%(subject)s”") % {"subject": step.subject}
        if step.window_start is not None:
            what += " " + gettext("within %(window)s") % {
                "window": stepwindows.window_of(step).describe()
            }
    elif step.kind == kind.WEBHOOK:
        what = gettext("call the webhook “%(endpoint)s”") % {"endpoint": step.endpoint}
    elif step.kind == kind.TAG:
        what = gettext("tag “%(tag)s”") % {"tag": step.tag}
    elif step.kind == kind.UNTAG:
        what = gettext("untag “%(tag)s”") % {"tag": step.tag}
    elif step.kind == kind.ADD_LIST:
        what = gettext("add to a list “%(list)s”") % {"list": step.mailing_list}
    elif step.kind == kind.REMOVE_LIST:
        what = gettext("remove from a list “%(list)s”") % {"list": step.mailing_list}
    elif step.kind == kind.BRANCH:
        c = step.condition
        test = {
            "opened": lambda: gettext("opened step %(step)s") % {"step": c.get("step")},
            "clicked": lambda: gettext("clicked in step %(step)s") % {"step": c.get("step")},
            "attribute": lambda: (
                gettext("%(name)s is “%(value)s”")
                % {"name": c.get("name"), "value": c.get("value")}
            ),
            "segment": lambda: (
                gettext("in segment %(segment)s")
                % {"segment": Segment.objects.filter(pk=c.get("segment")).first()}
            ),
        }.get(c.get("if", ""), lambda: "?")()
        where = (
            gettext("go to step %(step)s") % {"step": step.goto}
            if step.goto
            else gettext("leave the sequence")
        )
        what = gettext("if %(test)s: %(then)s") % {"test": test, "then": where}
    else:  # a step that only waits
        return describe_wait(step) or gettext("no wait")
    wait = describe_wait(step)
    return gettext("%(wait)s; %(then)s") % {"wait": wait, "then": what} if wait else what


def positions(automation: Automation) -> Iterable[dict[str, Any]]:
    """Each person's place, for the page and the CSV export (the caller pages or streams)."""
    for e in (
        automation.enrolments.exclude(state=Enrolment.State.EXCLUDED)
        .select_related("subscriber")
        .order_by("id")
        .iterator(chunk_size=2000)
    ):
        yield {
            "email": e.subscriber.email,
            "cycle": e.cycle,
            "state": e.state,
            "step": e.position if e.state == Enrolment.State.ACTIVE else "",
            "next_at": e.next_at.isoformat() if e.next_at and e.state == "active" else "",
            "entered_at": e.entered_at.isoformat(),
            "reason": e.reason,
        }


CSV_COLUMNS = ["email", "cycle", "state", "step", "next_at", "entered_at", "reason"]


def positions_csv(automation: Automation) -> Iterable[str]:
    """The positions as CSV lines (streamed: a sequence may hold a million people)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS)
    writer.writeheader()
    for row in positions(automation):
        writer.writerow(row)
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_of(automation: Automation) -> dict[str, Any]:
    return {
        "id": automation.pk,
        "name": automation.name,
        "status": automation.status,
        "trigger": automation.trigger,
        "trigger_text": automation.trigger_text,
        "list": automation.mailing_list.name if automation.mailing_list else None,
        "segment": automation.segment.name if automation.segment else None,
        "attribute": automation.attribute or None,
        "sender": automation.sender.name if automation.sender else None,
        "from": automation.from_email,
        "enrol_existing": automation.enrol_existing,
        "activated_at": automation.activated_at,
    }


def live_people(automation: Automation) -> int:
    return automation.enrolments.filter(Q(state=Enrolment.State.ACTIVE)).count()
