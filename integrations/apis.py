"""The webhooks API: register endpoints, read their delivery log, send a test ping."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_permissions import Can
from accounts.permissions import MANAGE_WEBHOOKS
from core.api import page_of, paginate
from core.conditional import if_match_check, with_etag
from core.pagination import TimeCursorPagination
from core.serializers import refuse_unknown_parameters
from idempotency.decorator import idempotent
from integrations import selectors, services
from integrations.models import WebhookEndpoint
from integrations.serializers import (
    DeliveryAttemptOut,
    PingOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookUpdateIn,
)


class WebhookListCreateApi(APIView):
    permission_classes = [Can(MANAGE_WEBHOOKS)]

    @extend_schema(
        operation_id="webhooks_list",
        responses=page_of(WebhookOut),
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    def get(self, request):
        refuse_unknown_parameters(request, {"page", "page_size", "format"})
        return paginate(request, self, selectors.webhook_list(), WebhookOut)

    @extend_schema(operation_id="webhooks_create", request=WebhookIn, responses={201: WebhookCreatedOut})
    @idempotent(store_response=False)  # the answer holds the secret: a repeat is a 409, not a replay
    def post(self, request):
        data = WebhookIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_create(actor=request.user, **data.validated_data)
        body = WebhookCreatedOut(endpoint, context={"secret": secret}).data
        return Response(
            body, status=status.HTTP_201_CREATED, headers={"Location": f"/api/v1/webhooks/{endpoint.pk}/"}
        )


class WebhookDetailApi(APIView):
    permission_classes = [Can(MANAGE_WEBHOOKS)]
    etag = True

    @extend_schema(operation_id="webhooks_retrieve", responses=WebhookOut)
    def get(self, request, webhook_id):
        return with_etag(request, Response(WebhookOut(selectors.webhook_get(webhook_id=webhook_id)).data))

    @extend_schema(operation_id="webhooks_partial_update", request=WebhookUpdateIn, responses=WebhookOut)
    def patch(self, request, webhook_id):
        endpoint = selectors.webhook_get(webhook_id=webhook_id)
        if "If-Match" in request.headers:
            endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
            if_match_check(request, WebhookOut(endpoint).data)
        data = WebhookUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_update(endpoint=endpoint, actor=request.user, **data.validated_data)
        return with_etag(request, Response(WebhookOut(endpoint).data))


class WebhookDeliveriesApi(APIView):
    permission_classes = [Can(MANAGE_WEBHOOKS)]

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        responses=page_of(DeliveryAttemptOut, cursor=True),
        parameters=[OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
    )
    def get(self, request, webhook_id):
        refuse_unknown_parameters(request, {"cursor", "page_size", "format"})
        endpoint = selectors.webhook_get(webhook_id=webhook_id)
        attempts = selectors.attempts_of(endpoint=endpoint)
        return paginate(request, self, attempts, DeliveryAttemptOut, TimeCursorPagination)


class WebhookTestApi(APIView):
    permission_classes = [Can(MANAGE_WEBHOOKS)]

    @extend_schema(operation_id="webhooks_test", request=None, responses={202: PingOut})
    @idempotent
    def post(self, request, webhook_id):
        endpoint = selectors.webhook_get(webhook_id=webhook_id)
        services.webhook_ping(endpoint=endpoint, actor=request.user)
        delivery = selectors.delivery_latest(endpoint=endpoint)
        return Response(
            {"delivery": delivery.uid, "event": delivery.event_id}, status=status.HTTP_202_ACCEPTED
        )
