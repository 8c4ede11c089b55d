"""A campaign's links, numbered once: click tokens carry the number, not the address."""

from django.db import IntegrityError, transaction
from django.db.models import Max

from postroom.campaigns.models import TrackedLink


def number_links(campaign_id: int, urls: tuple[str, ...] | list[str]) -> list[int]:
    """The stored number of each URL, numbering new ones after the campaign's last.

    Numbers never change once given, so a message sent before the campaign's
    layout was edited still redirects where it said. Two workers compiling at
    once may race to number the same URL: the loser reads the winner's numbers.
    """
    for _ in range(5):
        known = dict(
            TrackedLink.objects.filter(campaign_id=campaign_id, url__in=urls).values_list(
                "url", "number"
            )
        )
        missing = [url for url in urls if url not in known]
        if not missing:
            return [known[url] for url in urls]
        try:
            with transaction.atomic():
                top = TrackedLink.objects.filter(campaign_id=campaign_id).aggregate(
                    top=Max("number")
                )["top"]
                first = 0 if top is None else top + 1
                TrackedLink.objects.bulk_create(
                    TrackedLink(campaign_id=campaign_id, number=first + i, url=url)
                    for i, url in enumerate(missing)
                )
        except IntegrityError:
            continue
    raise RuntimeError(f"could not number the links of campaign {campaign_id}")
