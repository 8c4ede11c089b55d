"""Per-list access: which lists a person may see and mail.

An editor or viewer may be granted some lists only (Profile.lists); owners,
admins and anyone granted nothing in particular see every list. A restricted
person sees the subscribers of their lists, the campaigns and imports that
target only their lists, and none of the pages that show the whole audience
at once (segments, the outbox, the bounce log, exports). Views get the rule
from `request.access`, set by the permission check (web.permissions,
api.auth), and the check also covers every object a route names by id.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext

from postroom.accounts import roles
from postroom.accounts.models import Profile, Role
from postroom.audience import segments
from postroom.audience.emails import InvalidEmail, normalize_email
from postroom.audience.models import MailingList, Subscriber, Subscription
from postroom.campaigns.models import Campaign
from postroom.errors import NotAllowed, NotFound
from postroom.imports.models import Import

# Pages that show the whole audience at once, whatever list it is on.
WHOLE_AUDIENCE_ROUTES = frozenset(
    {
        "segments", "segment_new", "segment_count", "segment_edit", "segment_row_count",
        "segment_delete", "export",
        "outbox", "outbox_message", "outbox_raw",
        "bounces", "bounce_detail", "bounce_lift",
        # A feed mails its lists or a segment on its own schedule, for whoever set it up.
        "feeds", "feed_new", "feed_edit", "feed_check", "feed_delete",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Access:
    """The lists a person may see and mail; `list_ids` None means every list."""

    list_ids: frozenset[int] | None = None

    @property
    def restricted(self) -> bool:
        return self.list_ids is not None

    def narrowed(self, list_ids: Iterable[int] | None) -> "Access":
        """This access further limited (an API token granted some lists only)."""
        if list_ids is None:
            return self
        wanted = frozenset(list_ids)
        return Access(wanted if self.list_ids is None else self.list_ids & wanted)

    # -- what a restricted person sees ---------------------------------------------

    def lists(self, rows: QuerySet[MailingList] | None = None) -> QuerySet[MailingList]:
        rows = MailingList.objects.all() if rows is None else rows
        return rows if self.list_ids is None else rows.filter(pk__in=self.list_ids)

    def subscribers(self, rows: QuerySet[Subscriber]) -> QuerySet[Subscriber]:
        """Those with a subscription (in any state) on one of the lists."""
        if self.list_ids is None:
            return rows
        return rows.filter(
            segments.has_row(Subscription.objects.filter(mailing_list_id__in=self.list_ids))
        )

    def someone_elses(self, email: str) -> bool:
        """Whether `email` is a subscriber already, on lists outside the grant only: adding
        them to a granted list may not change their name or fields (nor is it a way to
        change them)."""
        if self.list_ids is None:
            return False
        try:
            existing = Subscriber.objects.filter(email=normalize_email(email))
        except InvalidEmail:
            return False  # refused with its own message by whatever adds it
        return existing.exists() and not self.subscribers(existing).exists()

    def campaigns(self, rows: QuerySet[Campaign]) -> QuerySet[Campaign]:
        """Those that target at least one list, all of them granted."""
        return self._only_granted(rows, Campaign.lists.through, "campaign_id")

    def imports(self, rows: QuerySet[Import]) -> QuerySet[Import]:
        """Those that load only into granted lists (and at least one)."""
        return self._only_granted(rows, Import.lists.through, "import_id")

    def _only_granted(self, rows: QuerySet, through: type, owner: str) -> QuerySet:
        """Rows whose list links (`through`, keyed by `owner`) exist and are all granted."""
        if self.list_ids is None:
            return rows
        links = through.objects.filter(**{owner: OuterRef("pk")})  # type: ignore[attr-defined]
        outside = links.exclude(mailinglist_id__in=self.list_ids)
        return rows.filter(Exists(links)).exclude(Exists(outside))

    # -- checks ----------------------------------------------------------------------

    def check_lists(self, lists: Iterable[MailingList | int]) -> None:
        """Refuse lists outside the grant; a restricted person must name at least one."""
        if self.list_ids is None:
            return
        ids = {item if isinstance(item, int) else item.pk for item in lists}
        if not ids:
            raise NotAllowed(gettext("choose at least one of your lists: you may mail only those"))
        others = ids - self.list_ids
        if others:
            names = ", ".join(
                MailingList.objects.filter(pk__in=others).values_list("name", flat=True)
            )
            raise NotAllowed(
                gettext("you have no access to the list %(names)s")
                % {"names": names or sorted(others)}
            )

    def check_whole_person(self) -> None:
        """Blocklisting, erasing or unsubscribing from everything reaches every list."""
        if self.list_ids is not None:
            raise NotAllowed(
                gettext(
                    "this changes the person on every list they are on, and your access is"
                    " limited to some lists; ask an admin"
                )
            )

    def check_new_list(self) -> None:
        if self.list_ids is not None:
            raise NotAllowed(
                gettext("your access is limited to some lists; an admin creates new ones")
            )

    def check_route(self, route: str | None, ids: Mapping[str, object]) -> None:
        """The route and every object it names by id must be within the grant.

        An object outside it is NotFound, as if it did not exist: a restricted
        person does not learn which other subscribers or campaigns there are.
        """
        if self.list_ids is None:
            return
        if route in WHOLE_AUDIENCE_ROUTES:
            raise NotAllowed(
                gettext("this page shows every list; your access is limited to some lists")
            )
        visible: dict[str, QuerySet] = {
            "list_id": self.lists(),
            "subscriber_id": self.subscribers(Subscriber.objects.all()),
            "campaign_id": self.campaigns(Campaign.objects.all()),
            "import_id": self.imports(Import.objects.all()),
        }
        for name, rows in visible.items():
            if name in ids and not rows.filter(pk=ids[name]).exists():
                raise NotFound(_no_such(name))


def _no_such(name: str) -> str:
    """A whole sentence per kind of object, so each reads as one in every language."""
    return {
        "list_id": gettext("no such list"),
        "subscriber_id": gettext("no such subscriber"),
        "campaign_id": gettext("no such campaign"),
        "import_id": gettext("no such import"),
    }[name]


EVERYTHING = Access()


def access_for(user: AbstractBaseUser | AnonymousUser) -> Access:
    """Owners and admins see every list; others the lists granted, if any are."""
    role = roles.role_of(user)
    if role is None or roles.at_least(role, Role.ADMIN) or user.pk is None:
        return EVERYTHING
    granted = frozenset(
        Profile.lists.through.objects.filter(profile__user_id=user.pk).values_list(
            "mailinglist_id", flat=True
        )
    )
    return Access(granted) if granted else EVERYTHING
