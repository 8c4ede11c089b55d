"""Every page of the admin UI and the public site, as one table.

Each area's routes stay together; the view module next to each route holds
its permission decorator.
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from postroom.web.views import (
    alerts,
    bounce_log,
    bounces,
    campaigns,
    dashboard,
    deliverability,
    delivery,
    engagement,
    health,
    imports,
    layouts,
    lists,
    mailboxes,
    metrics,
    outbox,
    public,
    segments,
    senders,
    settings,
    subscribe,
    subscribers,
    webhooks,
)

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
    path("alerts/<int:alert_id>/acknowledge/", alerts.acknowledge, name="alert_acknowledge"),
    # Audience: subscribers, lists, segments
    path("subscribers/", subscribers.index, name="subscribers"),
    path("subscribers/new/", subscribers.new, name="subscriber_new"),
    path("subscribers/bulk/", subscribers.bulk_action, name="subscribers_bulk"),
    path("subscribers/<int:subscriber_id>/", subscribers.detail, name="subscriber_detail"),
    path(
        "subscribers/<int:subscriber_id>/lists/",
        subscribers.subscriptions,
        name="subscriber_subscriptions",
    ),
    path(
        "subscribers/<int:subscriber_id>/status/",
        subscribers.set_status,
        name="subscriber_status",
    ),
    path("subscribers/<int:subscriber_id>/erase/", subscribers.erase, name="subscriber_erase"),
    path("lists/", lists.index, name="lists"),
    path("lists/<int:list_id>/", lists.detail, name="list_detail"),
    path("lists/<int:list_id>/delete/", lists.delete, name="list_delete"),
    path("segments/", segments.index, name="segments"),
    path("segments/new/", segments.edit, name="segment_new"),
    path("segments/count/", segments.live_count, name="segment_count"),
    path("segments/<int:segment_id>/", segments.edit, name="segment_edit"),
    path("segments/<int:segment_id>/count/", segments.row_count, name="segment_row_count"),
    path("segments/<int:segment_id>/delete/", segments.delete, name="segment_delete"),
    # Imports and exports
    path("imports/", imports.index, name="imports"),
    path("imports/new/", imports.new, name="import_new"),
    path("imports/<int:import_id>/", imports.detail, name="import_detail"),
    path("imports/<int:import_id>/mapping/", imports.mapping, name="import_mapping"),
    path("imports/<int:import_id>/counts/", imports.counts, name="import_counts"),
    path("imports/<int:import_id>/start/", imports.start, name="import_start"),
    path("imports/<int:import_id>/discard/", imports.discard, name="import_discard"),
    path("imports/<int:import_id>/progress/", imports.progress, name="import_progress"),
    path("imports/<int:import_id>/rejected.csv", imports.rejects, name="import_rejects"),
    path("export/", imports.export_csv, name="export"),
    # Campaigns and layouts
    path("campaigns/", campaigns.index, name="campaigns"),
    path("campaigns/new/", campaigns.new, name="campaign_new"),
    path("campaigns/preview/", campaigns.live_preview, name="campaign_live_preview"),
    path("campaigns/audience-count/", campaigns.audience_count, name="campaign_audience_count"),
    path("campaigns/<int:campaign_id>/", campaigns.detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/edit/", campaigns.edit, name="campaign_edit"),
    path("campaigns/<int:campaign_id>/test/", campaigns.test_send, name="campaign_test"),
    path("campaigns/<int:campaign_id>/schedule/", campaigns.schedule, name="campaign_schedule"),
    path(
        "campaigns/<int:campaign_id>/unschedule/",
        campaigns.unschedule,
        name="campaign_unschedule",
    ),
    path("campaigns/<int:campaign_id>/duplicate/", campaigns.duplicate, name="campaign_duplicate"),
    path("campaigns/<int:campaign_id>/delete/", campaigns.delete, name="campaign_delete"),
    path("layouts/", layouts.index, name="layouts"),
    path("layouts/new/", layouts.new, name="layout_new"),
    path("layouts/preview/", layouts.preview, name="layout_preview"),
    path("layouts/<int:layout_id>/", layouts.edit, name="layout_edit"),
    path("layouts/<int:layout_id>/duplicate/", layouts.duplicate, name="layout_duplicate"),
    path("layouts/<int:layout_id>/delete/", layouts.delete, name="layout_delete"),
    # Delivery: senders, outbox, deliveries
    path("senders/", senders.index, name="senders"),
    path("senders/new/", senders.new, name="sender_new"),
    path("senders/<int:sender_id>/", senders.edit, name="sender_edit"),
    path("senders/<int:sender_id>/test/", senders.test, name="sender_test"),
    path(
        "senders/<int:sender_id>/deliverability/",
        deliverability.sender_check,
        name="sender_deliverability",
    ),
    path("senders/<int:sender_id>/delete/", senders.delete, name="sender_delete"),
    path("outbox/", outbox.index, name="outbox"),
    path("outbox/<int:message_id>/", outbox.detail, name="outbox_message"),
    path("outbox/<int:message_id>/raw/", outbox.raw, name="outbox_raw"),
    path(
        "campaigns/<int:campaign_id>/delivery/",
        delivery.panel,
        name="campaign_delivery_panel",
    ),
    path(
        "campaigns/<int:campaign_id>/delivery/<str:action>/",
        delivery.act,
        name="campaign_control",
    ),
    path(
        "campaigns/<int:campaign_id>/error-threshold/",
        delivery.threshold,
        name="campaign_threshold",
    ),
    path("campaigns/<int:campaign_id>/deliveries/", delivery.log, name="campaign_deliveries"),
    path(
        "campaigns/<int:campaign_id>/deliveries/resolve/",
        delivery.resolve,
        name="campaign_resolve",
    ),
    path(
        "campaigns/<int:campaign_id>/deliveries.csv",
        delivery.log_csv,
        name="campaign_deliveries_csv",
    ),
    path(
        "subscribers/<int:subscriber_id>/deliveries/",
        delivery.subscriber_deliveries,
        name="subscriber_deliveries",
    ),
    # Bounces and complaints, and the mailboxes they arrive in
    path("bounces/", bounce_log.index, name="bounces"),
    path("bounces/<int:bounce_id>/", bounce_log.detail, name="bounce_detail"),
    path("bounces/<int:bounce_id>/lift/", bounce_log.lift, name="bounce_lift"),
    path("bounces/mailboxes/new/", mailboxes.new, name="mailbox_new"),
    path("bounces/mailboxes/<int:mailbox_id>/", mailboxes.edit, name="mailbox_edit"),
    path("bounces/mailboxes/<int:mailbox_id>/poll/", mailboxes.poll, name="mailbox_poll"),
    path("bounces/mailboxes/<int:mailbox_id>/delete/", mailboxes.delete, name="mailbox_delete"),
    # Settings
    path("settings/", settings.index, name="settings"),
    path("settings/password/", settings.change_password, name="password_change"),
    path("settings/notifications/", alerts.notification_sender, name="notification_sender"),
    path("settings/ui/", settings.ui_kit, name="ui_kit"),
    path("settings/webhooks/", webhooks.index, name="webhooks"),
    path("settings/webhooks/<int:endpoint_id>/", webhooks.detail, name="webhook_detail"),
    path("settings/webhooks/<int:endpoint_id>/test/", webhooks.test, name="webhook_test"),
    path("settings/webhooks/<int:endpoint_id>/secret/", webhooks.rotate, name="webhook_rotate"),
    path("settings/webhooks/<int:endpoint_id>/delete/", webhooks.delete, name="webhook_delete"),
    # Public pages (no login): unsubscribe, preferences, view in browser, forms
    path("u/<str:token>/", public.unsubscribe, name="public_unsubscribe"),
    path("p/<str:token>/", public.preferences, name="public_preferences"),
    path("v/<str:token>/", public.view_in_browser, name="public_view"),
    path("subscribe/", subscribe.index, name="public_subscribe_index"),
    path("subscribe/<str:key>/", subscribe.subscribe, name="public_subscribe"),
    path("c/<str:token>/", subscribe.confirm, name="public_confirm"),
    path("o/<str:token>.gif", engagement.open_pixel, name="public_open"),
    path("r/<str:token>/", engagement.click, name="public_click"),
    path("webhooks/bounce", bounces.webhook, name="bounce_webhook"),
    path("webhooks/<str:provider>", bounces.provider_webhook, name="provider_webhook"),
    # Monitoring (a bearer token, not a login)
    path("metrics", metrics.metrics, name="metrics"),
    path("health", health.health, name="health"),  # public unless POSTROOM_HEALTH_TOKEN
]
