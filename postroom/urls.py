"""The root URL map: the admin UI and public pages (web), and the REST API (api)."""

from django.urls import include, path

urlpatterns = [
    path("api/", include("postroom.api.urls")),
    path("", include("postroom.web.urls")),
]

handler403 = "postroom.web.views.errors.forbidden"
handler404 = "postroom.web.views.errors.not_found"
handler500 = "postroom.web.views.errors.server_error"
