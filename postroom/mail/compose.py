"""Turn a campaign and a recipient into the exact bytes sent over SMTP.

    compiled = compile_campaign(spec)  # once; TemplateError lists every problem
    message = compiled.build(recipient)  # per recipient; RenderError if this one fails
    subject, html, text = compiled.render_preview(recipient)  # previews, view in browser

Compiling does all the slow work once: checks the templates, converts
Markdown, wraps the layout, inlines CSS, derives the text part, compiles the
Jinja templates and pre-encodes the constant headers. `build()` then renders
two (or three) templates, signs the links and assembles bytes.
"""

import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from email_validator import EmailNotValidError, validate_email

from postroom.mail import attachments, content, mime
from postroom.mail.attachments import Part
from postroom.mail.budget import DEFAULT_BUDGET, Budget
from postroom.mail.engagement import Tracking
from postroom.mail.errors import HeaderError, RenderError, TemplateBudgetError, TemplateError
from postroom.mail.language import gettext
from postroom.mail.links import LinkSigner
from postroom.mail.slots import CompiledPart, NotLinear, SlotRender
from postroom.mail.templating import (
    VARIABLES,
    TemplateProblem,
    check_template,
    compile_template,
    render,
    uses_variable,
)

# A layout may also place the body and the preheader.
LAYOUT_VARIABLES = {**VARIABLES, "content": set(), "preheader": set()}


@dataclass
class CampaignSpec:
    """What a campaign says about its messages; plain data, so it needs no database."""

    campaign_id: int
    name: str
    subject: str  # a template
    from_email: str
    body: str = ""  # a template, in body_format
    body_format: str = "markdown"  # markdown | html | plain
    preheader: str = ""  # a template; the preview line shown by mail clients
    from_name: str = ""
    reply_to: str = ""
    text_body: str = ""  # a template; derived from the HTML when empty
    layout_html: str | None = None  # None: DEFAULT_LAYOUT; "" : the body alone
    headers: dict[str, str] = field(default_factory=dict)
    list_name: str = ""  # shown as {{ list.name }} and in List-Id
    # {{ subscriber.language }}: a subscriber's `language` attribute as one of these codes
    # (the installation's languages), else the lists' language (list_language).
    languages: tuple[str, ...] = ()
    list_language: str = ""
    list_id: str = ""  # List-Id label, e.g. "news.example.com"; from the From domain when empty
    envelope_from: str = ""  # MAIL FROM (return path for bounces); From address when empty
    verp: bool = False  # MAIL FROM local+<tag>@domain per recipient (LinkSigner.verp_tag)
    track_opens: bool = False  # a 1x1 pixel in the HTML (mail.engagement)
    track_clicks: bool = False  # http(s) links in the HTML through signed redirects
    budget: Budget = DEFAULT_BUDGET  # time and size per rendered part (settings)
    attachments: tuple[Part, ...] = ()  # the same files attached to every message


@dataclass
class Recipient:
    subscriber_id: int
    email: str
    name: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltMessage:
    data: bytes
    message_id: str
    mail_from: str
    rcpt_to: str
    needs_smtputf8: bool
    # False only when known: no line of `data` starts with a dot (nothing to dot-stuff).
    dotted: bool = True


def _checked_address(address: str, what: str) -> str:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise HeaderError(
            gettext("the %(what)s address %(address)s is not valid: %(error)s")
            % {"what": what, "address": repr(address), "error": exc}
        ) from None
    return address


def _template_problems(spec: CampaignSpec, layout: str) -> list[TemplateProblem]:
    problems = check_template(spec.subject, html=False, field="subject")
    problems += check_template(spec.preheader, field="preheader")
    problems += check_template(spec.body, html=spec.body_format != "plain", field="body")
    problems += check_template(spec.text_body, html=False, field="text body")
    problems += check_template(layout, LAYOUT_VARIABLES, field="layout")
    return problems


def _split_name(name: str) -> tuple[str, str]:
    words = name.split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


def language_code(value: Any, known: tuple[str, ...]) -> str:
    """A language as people write it ("de-AT", "zh_CN", "FR") as one of `known` ("de",
    "zh-hans"), or "" when it is none of them; with nothing known, lower-cased as given."""
    code = _text(value).strip().lower().replace("_", "-")
    if not code or not known or code in known:
        return code
    primary, *rest = code.split("-")
    if primary == "zh":  # Chinese is told apart by its script, or the region that implies it
        traditional = any(part in ("hant", "tw", "hk", "mo") for part in rest)
        code = "zh-hant" if traditional else "zh-hans"
        return code if code in known else ""
    return primary if primary in known else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class CompiledCampaign:
    """A campaign ready to build messages; build() is safe to call from many threads."""

    def __init__(self, spec: CampaignSpec, links: LinkSigner) -> None:
        self.spec = spec
        self.links = links
        layout = content.DEFAULT_LAYOUT if spec.layout_html is None else spec.layout_html
        self.layout = layout

        for value, what in (
            (spec.subject, gettext("the subject")),
            (spec.from_name, gettext("the from name")),
        ):
            mime.check_campaign_value(value, what)
        problems = _template_problems(spec, layout)
        if problems:
            raise TemplateError(problems)

        body_html = content.body_to_html(spec.body, spec.body_format)
        if layout:
            html_source = content.inline_css(
                content.wrap_in_layout(body_html, layout, spec.preheader)
            )
        else:
            html_source = body_html
        if spec.text_body:
            text_source = spec.text_body
        elif spec.body_format == "plain":
            text_source = spec.body
        else:
            text_source = content.html_to_text(body_html)
        if not uses_variable(text_source, "unsubscribe_url", html=False):
            text_source = text_source.rstrip("\n") + "\n" + content.TEXT_FOOTER

        self.list = {"name": spec.list_name}
        # Opens and clicks are instrumented here, once, in the template source.
        self.tracking = Tracking(html_source, opens=spec.track_opens, clicks=spec.track_clicks)
        self.html_template = compile_template(self.tracking.html, html=True)
        self.text_template = compile_template(text_source, html=False)
        self.subject_template = compile_template(spec.subject, html=False)
        self.subject_is_static = not content.has_template_tags(spec.subject)
        sources = (html_source, text_source)
        self.uses_view = any(uses_variable(s, "view_url") for s in sources)
        self.uses_preferences = any(uses_variable(s, "preferences_url") for s in sources)

        from_box = mime.mailbox(_checked_address(spec.from_email, gettext("from")), spec.from_name)
        reply_box = (
            mime.mailbox(_checked_address(spec.reply_to, gettext("reply-to")))
            if spec.reply_to
            else None
        )
        self.domain = spec.from_email.rpartition("@")[2]
        self.from_address = from_box.envelope
        self.mail_from = (
            mime.mailbox(_checked_address(spec.envelope_from, gettext("envelope from"))).envelope
            if spec.envelope_from
            else from_box.envelope
        )
        list_label = spec.list_id or f"campaigns.{mime.ascii_domain(self.domain)}"
        custom = "".join(mime.custom_header(k, v) for k, v in spec.headers.items())
        self.template = mime.MessageTemplate(
            from_box=from_box,
            reply_to=reply_box,
            list_id_header=mime.list_id(list_label, spec.list_name or spec.name),
            custom_headers=custom,
            # "=_" never occurs in quoted-printable or base64 output.
            boundary="==_postroom_" + secrets.token_hex(12),
            html_charrefs=content.raw_text_is_ascii(html_source),
            static_subject=(
                mime.clean_subscriber_value(spec.subject) if self.subject_is_static else None
            ),
            attachments=self._attachment_parts(spec.attachments),
        )

        boundary = self.template.boundary_bytes
        constants = {"list": self.list}
        self.html_part = _compiled_part(self.tracking.html, True, constants, boundary, spec.budget)
        if self.html_part is not None:
            self.html_part.prepare(charrefs=self.template.html_charrefs)
        self.text_part = _compiled_part(text_source, False, constants, boundary, spec.budget)
        if self.text_part is not None:
            self.text_part.prepare(charrefs=False)
        subject_part = None
        if not self.subject_is_static:
            subject_part = _compiled_part(spec.subject, False, constants, b"", spec.budget)
        self.slots: SlotRender | None = None
        if subject_part or self.html_part or self.text_part:
            self.slots = SlotRender(subject_part, [self.html_part, self.text_part])

    @staticmethod
    def _attachment_parts(files: tuple[Part, ...]) -> tuple[bytes, ...]:
        """Each file encoded once for the whole campaign; HeaderError for a bad name or size."""
        attachments.check_files([(f.filename, len(f.data)) for f in files])
        return tuple(attachments.encode(f) for f in files)

    def _context(self, recipient: Recipient) -> tuple[dict[str, Any], str | None]:
        """The template's values for `recipient`, and the mailto: unsubscribe URL (signed
        with the same token as the https one)."""
        attributes = recipient.attributes or {}
        first, last = _split_name(_text(recipient.name))
        cid, sid = self.spec.campaign_id, recipient.subscriber_id
        unsubscribe, mailto = self.links.unsubscribe_urls(cid, sid, self.from_address)
        context = {
            "subscriber": {
                "email": recipient.email,
                "name": _text(recipient.name),
                "first_name": _text(attributes.get("first_name")) or first,
                "last_name": _text(attributes.get("last_name")) or last,
                "attributes": attributes,
                "language": language_code(attributes.get("language"), self.spec.languages)
                or self.spec.list_language,
            },
            "list": self.list,
            "campaign": {"name": self.spec.name, "subject": ""},
            "unsubscribe_url": unsubscribe,
            "preferences_url": self.links.preferences_url(sid) if self.uses_preferences else "",
            "view_url": self.links.view_url(cid, sid) if self.uses_view else "",
        }
        if self.tracking.active:
            context.update(self.tracking.context(self.links, cid, sid))
        return context, mailto

    def _subject(self, context: dict[str, Any]) -> str:
        if self.subject_is_static:
            subject = self.spec.subject
        else:
            subject = render(self.subject_template, context, self.spec.budget, "subject")
            subject = mime.clean_subscriber_value(subject)
        context["campaign"]["subject"] = subject
        return subject

    def _render(self, recipient: Recipient) -> tuple[str, str, str]:
        context, _ = self._context(recipient)
        subject = self._subject(context)
        limits = self.spec.budget
        html = render(self.html_template, context, limits, "HTML part")
        text = render(self.text_template, context, limits, "text part")
        return subject, html, text

    def _filled(self, context: dict[str, Any]) -> tuple[str, list[str] | None, list[str] | None]:
        """(subject, HTML slot values, text slot values): one render of all the slots; a
        part without values (None) takes the full render, as does everything if that fails."""
        slots = self.slots
        limits = self.spec.budget
        if slots is None or slots.subject is None:
            subject = self._subject(context)
            filled = slots.render(context, limits) if slots is not None else None
            if filled is None:
                return subject, None, None
            _, (html, text) = filled
            return subject, html, text
        filled = slots.render(context, limits)
        rendered = filled[0] if filled is not None else None
        if filled is None or rendered is None:
            return self._subject(context), None, None
        _, (html, text) = filled
        context["campaign"]["subject"] = rendered
        return rendered, html, text

    def _encoded(
        self,
        part: CompiledPart | None,
        values: list[str] | None,
        template: Any,
        context: dict[str, Any],
        name: str,
    ) -> tuple[str, bytes, bool]:
        """(Content-Transfer-Encoding, body, maybe a line starting with a dot) of one part:
        from its slot values when it has them, else (or when this recipient needs it)
        from the full render."""
        if part is not None and values is not None:
            encoded = part.encode(values)
            if encoded is not None:
                return encoded
        text = render(template, context, self.spec.budget, name)
        html = template is self.html_template and self.template.html_charrefs
        return (*mime.encode_body(text, self.template.boundary_bytes, html=html), True)

    def sample_check(self, recipient: Recipient) -> None:
        """Render every field alone, then the message, for `recipient` (a sample reader).

        A template over its time or size budget is refused here, with the field
        and line it is on, rather than discovered at send time. Other render
        failures may depend on the reader's data and are left to the send.
        """
        spec = self.spec
        fields = (
            ("subject", spec.subject, False),
            ("preheader", spec.preheader, True),
            ("body", spec.body, spec.body_format != "plain"),
            ("text body", spec.text_body, False),
            ("layout", self.layout, True),
        )
        context, _ = self._context(recipient)
        context.update(content="", preheader="")
        problems = []
        for field_name, source, html in fields:
            if not content.has_template_tags(source):
                continue
            try:
                render(compile_template(source, html=html), context, spec.budget)
            except TemplateBudgetError as exc:
                problem = TemplateError.from_render_error(exc).problems[0]
                problems.append(replace(problem, field=field_name))
            except RenderError:
                pass
        if not problems:
            try:
                self._render(recipient)
            except TemplateBudgetError as exc:
                problems += TemplateError.from_render_error(exc).problems
            except RenderError:
                pass
        if problems:
            raise TemplateError(problems)

    def render_preview(self, recipient: Recipient) -> tuple[str, str, str]:
        """(subject, html, text) exactly as `build()` would send them."""
        return self._render(recipient)

    def build(self, recipient: Recipient, *, test_prefix: str | None = None) -> BuiltMessage:
        """The full message for one recipient; RenderError when this recipient cannot be built.

        With `test_prefix` (even ""), a test send: its own Message-ID, and the
        prefix ("[Test] ") before the subject.
        """
        context, mailto = self._context(recipient)
        subject, html_values, text_values = self._filled(context)
        html_part = self._encoded(
            self.html_part, html_values, self.html_template, context, "HTML part"
        )
        text_part = self._encoded(
            self.text_part, text_values, self.text_template, context, "text part"
        )
        cid, sid = self.spec.campaign_id, recipient.subscriber_id
        if test_prefix is not None:
            subject = test_prefix + subject
        try:
            to = mime.mailbox(recipient.email, mime.clean_subscriber_value(_text(recipient.name)))
            unsubscribe = mime.list_unsubscribe(context["unsubscribe_url"], mailto)
        except HeaderError as exc:
            raise RenderError(str(exc)) from None
        make_id = mime.message_id if test_prefix is None else mime.test_message_id
        message_id = make_id(cid, sid, self.domain, self.links.install_tag)
        static = self.subject_is_static and test_prefix is None
        data = self.template.assemble(
            to=to,
            message_id=message_id,
            list_unsubscribe_header=unsubscribe,
            text_part=text_part[:2],
            html_part=html_part[:2],
            subject=None if static else subject,
        )
        mail_from = self.mail_from
        if self.spec.verp and test_prefix is None:
            local, _, domain = mail_from.rpartition("@")
            mail_from = f"{local}+{self.links.verp_tag(cid, sid)}@{domain}"
        # No header line starts with a dot (a name, or the white space of a fold): the
        # parts tell (see CompiledPart.encode).
        dotted = text_part[2] or html_part[2]
        return BuiltMessage(data, message_id, mail_from, to.envelope, to.needs_smtputf8, dotted)


def compile_campaign(spec: CampaignSpec, links: LinkSigner) -> CompiledCampaign:
    """Check and prepare a campaign; TemplateError (all problems, with lines) or HeaderError.

    `links` signs its per-recipient links (the installation's: tracking.links.default_signer).
    """
    return CompiledCampaign(spec, links)


def _compiled_part(
    source: str, html: bool, constants: dict[str, Any], boundary: bytes, limits: Budget
) -> CompiledPart | None:
    """The part as slots, or None when its template needs the full render per recipient."""
    try:
        return CompiledPart(
            source, html=html, constants=constants, boundary=boundary, limits=limits
        )
    except NotLinear:
        return None
