"""Input and output shapes of the webhooks API."""

from rest_framework import serializers

from core.serializers import StrictSerializer
from integrations.models import EVENT_KINDS, DeliveryAttempt, WebhookEndpoint

EVENTS = serializers.ListField(
    child=serializers.ChoiceField(choices=list(EVENT_KINDS)),
    allow_empty=False,
    max_length=len(EVENT_KINDS),
    help_text="the kinds of event to receive",
)


class WebhookIn(StrictSerializer):
    url = serializers.CharField(max_length=2000, help_text="an https:// URL that answers 2xx")
    events = EVENTS
    active = serializers.BooleanField(default=True)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class WebhookUpdateIn(StrictSerializer):
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENT_KINDS)),
        allow_empty=False,
        max_length=len(EVENT_KINDS),
        required=False,
    )
    active = serializers.BooleanField(
        required=False, help_text="true also turns an automatically disabled one on"
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "active",
            "description",
            "created_at",
            "updated_at",
            "failing_since",
            "disabled_at",
            "disabled_reason",
        ]
        read_only_fields = fields


class WebhookCreatedOut(WebhookOut):
    secret = serializers.SerializerMethodField(help_text="the signing secret: shown only in this answer")

    class Meta(WebhookOut.Meta):
        fields = [*WebhookOut.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, endpoint) -> str:
        return self.context["secret"]


class DeliveryAttemptOut(serializers.ModelSerializer):
    delivery = serializers.UUIDField(source="delivery.uid", help_text="the Kassa-Delivery header")
    delivery_status = serializers.CharField(
        source="delivery.status", help_text="pending, succeeded or failed"
    )
    event = serializers.UUIDField(source="delivery.event_id")
    event_type = serializers.CharField(source="delivery.event.kind", help_text="the Kassa-Event header")
    attempt = serializers.IntegerField(source="number")

    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "delivery",
            "delivery_status",
            "event",
            "event_type",
            "attempt",
            "succeeded",
            "status_code",
            "error",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields


class PingOut(serializers.Serializer):
    delivery = serializers.UUIDField(help_text="the Kassa-Delivery of the ping")
    event = serializers.UUIDField()
