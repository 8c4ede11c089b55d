"""The REST API (django-ninja). OpenAPI schema at /api/openapi.json, docs at /api/docs."""

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI

from postroom.api.auth import operator_auth
from postroom.api.routes import campaigns, lists, subscribers
from postroom.errors import NotFound, PostroomError

api = NinjaAPI(
    title="Postroom API",
    version="1",
    description="Subscribers, lists and campaigns. Authenticate with "
    "`Authorization: Bearer <token>` (create one with `postroom token create`).",
    auth=operator_auth(),
    urls_namespace="api",
)
api.add_router("/lists", lists.router)
api.add_router("/subscribers", subscribers.router)
api.add_router("/campaigns", campaigns.router)


@api.exception_handler(PostroomError)
def domain_error(request: HttpRequest, exc: PostroomError):
    return api.create_response(
        request, {"detail": str(exc)}, status=404 if isinstance(exc, NotFound) else 400
    )


urlpatterns = [path("", api.urls)]
