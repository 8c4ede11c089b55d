"""The REST API (django-ninja). OpenAPI schema at /api/openapi.json, docs at /api/docs."""

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path

from postroom.api.auth import operator_auth
from postroom.api.errors import PostroomAPI
from postroom.api.routes import (
    abtests,
    automations,
    bounces,
    campaign_delivery,
    campaigns,
    feeds,
    health,
    imports,
    layouts,
    lists,
    media,
    public,
    segments,
    senders,
    statistics,
    subscribers,
    tx,
    webhooks,
)

api = PostroomAPI(
    title="Postroom API",
    version="1",
    description="Subscribers, lists and campaigns. Authenticate with "
    "`Authorization: Bearer <token>` (make one on the page Settings → API tokens or with "
    "`postroom token create`), or HTTP Basic "
    "with the token as the password, as listmonk clients do. Every refusal is "
    '`{"detail": "…"}`.',
    auth=operator_auth(),
    urls_namespace="api",
)
api.add_router("/health", health.router)
api.add_router("/public", public.router)
api.add_router("/lists", lists.router)
api.add_router("/subscribers", subscribers.router)
api.add_router("/segments", segments.router)
api.add_router("/campaigns", statistics.router)  # first: /timeseries is no campaign id
api.add_router("/campaigns", campaigns.router)
api.add_router("/campaigns", abtests.router)
api.add_router("/campaigns", campaign_delivery.router)  # after: its /{id}/{action} catches all
api.add_router("/feeds", feeds.router)
api.add_router("/layouts", layouts.router)
api.add_router("/media", media.router)
api.add_router("/imports", imports.router)
api.add_router("/senders", senders.router)
api.add_router("/bounces", bounces.router)
api.add_router("/webhooks", webhooks.router)
api.add_router("/tx", tx.router)
api.add_router("/automations", automations.router)


def unknown_path(request: HttpRequest, rest: str = "") -> JsonResponse:
    """A path the API does not have gets the API's error shape, not the UI's HTML page."""
    return JsonResponse({"detail": f"no such API path: /api/{rest}"}, status=404)


urlpatterns = [path("", api.urls), re_path(r"^(?P<rest>.*)$", unknown_path)]
