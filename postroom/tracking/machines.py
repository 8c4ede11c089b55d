"""Which opens and clicks a machine made, not a person (no database: rules and inputs only).

    machine_reason(ip, user_agent, seconds_after_delivery, kind="open") -> "" | reason

- Apple Mail Privacy Protection loads every image of every message through Apple's
  proxies as soon as it reaches the device: its fetches come from Apple's networks
  (17.0.0.0/8, and POSTROOM_MACHINE_NETWORKS for more) with a bare "Mozilla/5.0"
  user agent that names no mail client.
- Security scanners (Barracuda, Mimecast, Proofpoint, Microsoft's Safe Links…) and
  link checkers say who they are in the user agent, or are libraries and headless
  browsers; and they fetch within seconds of delivery, which people do not: an open
  within POSTROOM_MACHINE_OPEN_SECONDS or a click within POSTROOM_MACHINE_CLICK_SECONDS
  of the server accepting the message is a machine's. So is a click that follows
  the same reader's click on another link of the campaign within a second or two
  (tracking.activity marks the whole burst).
"""

import ipaddress
import re

from django.conf import settings

APPLE_MPP, PROXY, SCANNER, TOO_SOON, BURST = "apple-mpp", "proxy", "scanner", "too-soon", "burst"
LABELS = {
    APPLE_MPP: "Apple Mail Privacy Protection",
    PROXY: "a proxy network",
    SCANNER: "security scanners and bots",
    TOO_SOON: "seconds after delivery",
    BURST: "every link at once",
}
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
# What MPP's fetcher sends: exactly this, with no WebKit or Mail version after it.
_BARE_MOZILLA = re.compile(r"^Mozilla/5\.0$")
_SCANNERS = re.compile(
    r"barracuda|mimecast|proofpoint|urldefense|safelinks|microsoft office|msoffice|"
    r"symantec|messagelabs|trend ?micro|sophos|fortiguard|forcepoint|cisco|ironport|"
    r"checkpoint|zscaler|headlesschrome|phantomjs|python-requests|python-urllib|aiohttp|"
    r"go-http-client|curl/|wget/|java/|okhttp|libwww|scrapy|bot\b|crawler|spider|preview",
    re.I,
)


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    extra = [ipaddress.ip_network(n, strict=False) for n in settings.POSTROOM_MACHINE_NETWORKS]
    return [*APPLE_NETWORKS, *extra]


def _in(ip: str, networks) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address.version == n.version and address in n for n in networks)


def machine_reason(
    ip: str | None, user_agent: str, seconds_after_delivery: float | None, kind: str = "open"
) -> str:
    """Why this open or click is a machine's, or "" for a person's (as far as we can tell)."""
    agent = (user_agent or "").strip()
    if ip and _in(ip, APPLE_NETWORKS) and (not agent or _BARE_MOZILLA.match(agent)):
        return APPLE_MPP
    if ip and _in(ip, _networks()[len(APPLE_NETWORKS) :]):
        return PROXY
    if _SCANNERS.search(agent):
        return SCANNER
    limit = (
        settings.POSTROOM_MACHINE_OPEN_SECONDS
        if kind == "open"
        else settings.POSTROOM_MACHINE_CLICK_SECONDS
    )
    if seconds_after_delivery is not None and 0 <= seconds_after_delivery < limit:
        return TOO_SOON
    return ""
