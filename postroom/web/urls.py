"""Every page of the admin UI and the public site, as one table.

Each area's routes stay together; the view module next to each route holds
its permission decorator.
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from postroom.web.views import dashboard, settings

urlpatterns = [
    # Session
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Dashboard
    path("", dashboard.index, name="dashboard"),
    # Audience: subscribers, lists, segments
    # Imports and exports
    # Campaigns and layouts
    # Delivery: senders, outbox, deliveries
    # Settings
    path("settings/", settings.index, name="settings"),
    path("settings/password/", settings.change_password, name="password_change"),
    path("settings/ui/", settings.ui_kit, name="ui_kit"),
    # Public pages (no login): unsubscribe, preferences, view in browser, forms
]
