from django.urls import path

from integrations import apis

urlpatterns = [
    path("webhooks/", apis.WebhookListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<uuid:webhook_id>/", apis.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:webhook_id>/deliveries/",
        apis.WebhookDeliveriesApi.as_view(),
        name="webhook-deliveries",
    ),
    path("webhooks/<uuid:webhook_id>/test/", apis.WebhookTestApi.as_view(), name="webhook-test"),
]
