"""Stored transactional templates: made, changed and removed here for the UI, CLI and API.

Each is checked as it is saved (syntax, variables, From address, layout,
sender), so a shop never learns of a broken template from a failed receipt.
"""

from django.utils.translation import gettext

from postroom.campaigns.models import Layout
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput, NotFound
from postroom.transactional import render
from postroom.transactional.models import TxTemplate
from postroom.transactional.services import mailbox


def _checked(
    template: TxTemplate,
    *,
    name: str,
    subject: str,
    body: str,
    body_format: str,
    layout: str | None,
    from_address: str,
    sender: str | None,
) -> TxTemplate:
    name = name.strip()
    if not name:
        raise InvalidInput(gettext("give the template a name"))
    if name.isdigit():
        raise InvalidInput(gettext("a template's name cannot be a number (numbers are ids)"))
    if TxTemplate.objects.filter(name=name).exclude(pk=template.pk).exists():
        raise InvalidInput(
            gettext("a transactional template named %(name)s already exists") % {"name": repr(name)}
        )
    if not subject.strip() or not body.strip():
        raise InvalidInput(gettext("give the template a subject and a body"))
    found_layout = None
    if layout:
        found_layout = Layout.objects.filter(name=layout).first()
        if found_layout is None:
            raise InvalidInput(gettext("no layout named %(layout)s") % {"layout": repr(layout)})
    found_sender = None
    if sender:
        found_sender = Sender.objects.filter(name=sender).first()
        if found_sender is None:
            raise InvalidInput(gettext("no sender named %(sender)s") % {"sender": repr(sender)})
    from_email, from_name = mailbox(from_address, "from") if from_address.strip() else ("", "")
    render.compiled(subject, body, body_format, found_layout.html if found_layout else None)
    template.name, template.subject, template.body = name, subject, body
    template.body_format, template.layout, template.sender = body_format, found_layout, found_sender
    template.from_email, template.from_name = from_email, from_name
    template.save()
    return template


def create(**fields) -> TxTemplate:
    """A new template; InvalidInput (TemplateError with lines) and nothing stored if wrong."""
    return _checked(TxTemplate(), **fields)


def update(template: TxTemplate, **fields) -> TxTemplate:
    return _checked(template, **fields)


def delete(template: TxTemplate) -> None:
    """Messages already queued keep their content: they were rendered when accepted."""
    template.delete()


def get(template_id: int) -> TxTemplate:
    found = TxTemplate.objects.select_related("layout", "sender").filter(pk=template_id).first()
    if found is None:
        raise NotFound(
            gettext("no transactional template with id %(template_id)s")
            % {"template_id": template_id}
        )
    return found
