from django.db import models
from django.utils import timezone

from tenants.models import TenantOwnedModel


class SignInEvent(TenantOwnedModel):
    """A sign-in attempt (success or failure, with the reason), a sign-out, a lockout or an unlock."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in"
        SIGN_OUT = "sign_out"
        LOCKOUT = "lockout"
        UNLOCK = "unlock"

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"
        LOCKED_OUT = "locked_out"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SIGN_IN)
    username = models.CharField(max_length=150)
    user_id = models.UUIDField(null=True, blank=True)
    actor_id = models.UUIDField(null=True, blank=True, help_text="who unlocked, for unlock events")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=8)
    ip = models.GenericIPAddressField(null=True, blank=True)
    host = models.CharField(max_length=253, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="signin_tenant_time"),
            models.Index(fields=["tenant", "user_id", "-created_at"], name="signin_tenant_user_time"),
        ]
