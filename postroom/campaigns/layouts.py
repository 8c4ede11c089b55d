"""Layouts: the HTML frame around a campaign's content, checked like any template."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from postroom.campaigns import gallery
from postroom.campaigns.models import Campaign, Layout
from postroom.campaigns.naming import copy_name
from postroom.campaigns.spec import SAMPLE_RECIPIENT, template_budget
from postroom.errors import InvalidInput, NotFound
from postroom.integers import as_id
from postroom.mail.compose import CampaignSpec, compile_campaign
from postroom.mail.content import DEFAULT_LAYOUT
from postroom.mail.errors import RenderError, TemplateError
from postroom.tracking.links import default_signer

# What a layout preview shows inside the frame.
SAMPLE_BODY = """# A headline for {{ subscriber.first_name | default("you") }}

Here is how a campaign looks inside this layout: a paragraph with **bold**
text, *emphasis* and [a link](https://example.com/).

## A smaller heading

- a list item
- another one

> A quotation, set apart from the text.
"""


def default_layout() -> Layout:
    """The stock layout, created the first time anything needs it.

    Kept as an ordinary row so operators can restyle it; if they delete it,
    the next campaign brings it back. On a new installation (no layout at all yet)
    the gallery's layouts come with it, so a first campaign has them to choose from.
    """
    layout = Layout.objects.filter(name=Layout.DEFAULT_NAME).first()
    if layout is not None:
        return layout
    first = not Layout.objects.exists()
    try:
        with transaction.atomic():
            layout = Layout.objects.create(name=Layout.DEFAULT_NAME, html=DEFAULT_LAYOUT)
    except IntegrityError:  # created by someone else a moment ago
        return Layout.objects.get(name=Layout.DEFAULT_NAME)
    if first:
        for entry in gallery.GALLERY:
            gallery.add_to_layouts(entry.key)
    return layout


def get_layout(layout_id: int | str) -> Layout:
    layout = Layout.objects.filter(pk=as_id(layout_id) or 0).first()
    if layout is None:
        raise NotFound(gettext("layout %(layout)s does not exist") % {"layout": layout_id})
    return layout


def layout_by_name(name: str | None) -> Layout:
    if not name:
        return default_layout()
    try:
        return Layout.objects.get(name=name)
    except Layout.DoesNotExist:
        raise NotFound(gettext("layout %(name)s does not exist") % {"name": repr(name)}) from None


def _sample_spec(html: str) -> CampaignSpec:
    return CampaignSpec(
        campaign_id=0,
        name="Layout preview",
        subject="Layout preview",
        from_email="newsletter@example.com",
        body=SAMPLE_BODY,
        preheader="The preview line mail clients show next to the subject",
        layout_html=html,
        list_name="Sample list",
        budget=template_budget(),
    )


def preview_layout(html: str) -> str:
    """The layout around sample content, as a reader would see it; TemplateError if broken."""
    try:
        _, rendered, _ = compile_campaign(_sample_spec(html), default_signer()).render_preview(
            SAMPLE_RECIPIENT
        )
    except RenderError as exc:
        raise TemplateError.from_render_error(exc) from None
    return rendered


def _clean(name: str, html: str) -> tuple[str, str]:
    name = name.strip()
    if not name:
        raise InvalidInput(gettext("a layout needs a name"))
    if len(name) > 200:
        raise InvalidInput(gettext("a layout name is at most 200 characters"))
    # Compiling with sample content runs every check a campaign would: the
    # {{ content }} slot, syntax, unknown variables, CSS inlining, the template budget.
    compile_campaign(_sample_spec(html), default_signer()).sample_check(SAMPLE_RECIPIENT)
    return name, html


def _unique_save(layout: Layout) -> Layout:
    try:
        with transaction.atomic():
            layout.save()
    except IntegrityError:
        raise InvalidInput(
            gettext("a layout named %(name)s already exists") % {"name": repr(layout.name)}
        ) from None
    return layout


def create_layout(name: str, html: str) -> Layout:
    name, html = _clean(name, html)
    return _unique_save(Layout(name=name, html=html))


def _campaigns_using(layout: Layout, statuses: tuple[str, ...]) -> str:
    using = Campaign.objects.filter(layout=layout, status__in=statuses)
    return ", ".join(c.name for c in using[:3])


def update_layout(layout: Layout, name: str, html: str) -> Layout:
    """Change a layout, unless a campaign under way uses it (its readers would get two looks)."""

    running = _campaigns_using(layout, (Campaign.Status.RUNNING, Campaign.Status.PAUSED))
    if running:
        raise InvalidInput(
            gettext(
                "layout %(name)s is used by a campaign under way (%(running)s); duplicate it "
                "and edit the copy"
            )
            % {"name": repr(layout.name), "running": running}
        )
    layout.name, layout.html = _clean(name, html)
    return _unique_save(layout)


def duplicate_layout(layout: Layout) -> Layout:
    name = copy_name(layout.name, lambda name: Layout.objects.filter(name=name).exists())
    return _unique_save(Layout(name=name, html=layout.html))


def delete_layout(layout: Layout) -> None:
    """Delete a layout no unfinished campaign uses."""

    unfinished = tuple(
        s
        for s in Campaign.Status.values
        if s not in (Campaign.Status.FINISHED, Campaign.Status.CANCELLED)
    )
    names = _campaigns_using(layout, unfinished)
    if names:
        raise InvalidInput(
            gettext("layout %(name)s is used by campaign(s): %(names)s")
            % {"name": repr(layout.name), "names": names}
        )
    layout.delete()
