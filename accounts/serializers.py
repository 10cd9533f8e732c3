from rest_framework import serializers

from accounts.models import ApiToken, Role, SupportGrant, User
from accounts.permissions import PERMISSION_CHOICES
from auditlog.models import SignInEvent
from core.serializers import TenantRelatedField
from tenants.models import Store


class TokenCreateIn(serializers.Serializer):
    tenant = serializers.SlugField(required=False)
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    otp = serializers.CharField(max_length=32, required=False, allow_blank=True)


class TokenOut(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    idle_timeout_seconds = serializers.IntegerField(allow_null=True)
    password_change_required = serializers.BooleanField(required=False)


class PasswordChangeIn(serializers.Serializer):
    current_password = serializers.CharField(max_length=1024, trim_whitespace=False)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


class RoleRef(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["id", "name", "builtin"]


class StoreRef(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "name"]


class MeOut(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    tenant = serializers.CharField()
    roles = RoleRef(many=True)
    permissions = serializers.ListField(child=serializers.CharField())
    stores = StoreRef(many=True)
    all_stores = serializers.BooleanField()
    mfa_enrolled = serializers.BooleanField()
    mfa_required = serializers.BooleanField()
    password_change_required = serializers.BooleanField()


class UserOut(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    stores = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "full_name",
            "email",
            "is_active",
            "is_service",
            "must_change_password",
            "roles",
            "stores",
            "last_login",
            "date_joined",
        ]

    def get_roles(self, user) -> list[str]:
        return sorted({str(a.role_id) for a in user.assignments.all()})

    def get_stores(self, user) -> list[str]:
        return sorted({str(a.store_id) for a in user.assignments.all() if a.store_id})


class UserCreateIn(serializers.Serializer):
    # The rules (NFKC, one script, no Latin look-alikes) are the service's: accounts.usernames.
    username = serializers.CharField(
        max_length=150, help_text="letters of one script, digits 0-9 and . _ @ + -"
    )
    password = serializers.CharField(
        max_length=1024, trim_whitespace=False, required=False, help_text="required unless is_service"
    )
    is_service = serializers.BooleanField(
        default=False, help_text="a service user: no password, no sign-in; it acts through integrator keys"
    )
    roles = serializers.ListField(child=TenantRelatedField(Role), min_length=1, max_length=20)
    stores = serializers.ListField(child=TenantRelatedField(Store), required=False, default=list)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class UserUpdateIn(serializers.Serializer):
    roles = serializers.ListField(child=TenantRelatedField(Role), min_length=1, max_length=20, required=False)
    stores = serializers.ListField(child=TenantRelatedField(Store), required=False)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class PasswordResetIn(serializers.Serializer):
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


ROLE_FIELDS = [
    "id",
    "name",
    "builtin",
    "permissions",
    "password_min_length",
    "password_require_classes",
    "password_history",
    "password_max_age_days",
    "lockout_threshold",
    "lockout_cooloff_seconds",
    "mfa_required",
    "session_idle_seconds",
    "session_lifetime_seconds",
    "token_idle_seconds",
    "token_lifetime_seconds",
]


class RoleSerializer(serializers.ModelSerializer):
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSION_CHOICES))

    class Meta:
        model = Role
        fields = ROLE_FIELDS
        read_only_fields = ["id", "builtin"]


class PermissionOut(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()


class SupportGrantSerializer(serializers.ModelSerializer):
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSION_CHOICES), required=False, default=list
    )
    active = serializers.SerializerMethodField()

    class Meta:
        model = SupportGrant
        fields = [
            "id",
            "staff_username",
            "reason",
            "permissions",
            "granted_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "active",
        ]
        read_only_fields = ["id", "granted_by", "created_at", "revoked_at", "active"]

    def get_active(self, grant) -> bool:
        return grant.is_active()


class SupportTokenIn(serializers.Serializer):
    tenant = serializers.SlugField()
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    otp = serializers.CharField(max_length=32, required=False, allow_blank=True)


class ApiTokenOut(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = [
            "id",
            "kind",
            "name",
            "prefix",
            "scopes",
            "allowed_ips",
            "created_at",
            "expires_at",
            "last_used_at",
        ]


class IntegratorKeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSION_CHOICES),
        min_length=1,
        max_length=len(PERMISSION_CHOICES),
        help_text="required: the permissions the key may use, each held by the user",
    )
    allowed_ips = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=50
    )

    def validate_allowed_ips(self, value):
        import ipaddress

        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise serializers.ValidationError(f"{network!r} is not an IP address or network") from None
        return value


class KeyCreatedOut(serializers.Serializer):
    id = serializers.UUIDField()
    token = serializers.CharField(help_text="the secret, shown this once")
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField()
    idle_timeout_seconds = serializers.IntegerField(allow_null=True)


class KeyRotatedOut(KeyCreatedOut):
    previous_key_expires_at = serializers.DateTimeField(help_text="the old key works until then")


class KeyRotateIn(serializers.Serializer):
    overlap_seconds = serializers.IntegerField(
        min_value=0, max_value=7 * 86400, default=86400, help_text="how long the old key keeps working"
    )


class KeyOut(serializers.ModelSerializer):
    expires_soon = serializers.SerializerMethodField(help_text="live and expiring within 14 days")

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "allowed_ips",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "rotated_at",
            "expires_soon",
        ]

    def get_expires_soon(self, key) -> bool:
        from django.utils import timezone

        from accounts.services import KEY_EXPIRY_WARNING

        now = timezone.now()
        return key.revoked_at is None and now < key.expires_at <= now + KEY_EXPIRY_WARNING


class TotpEnrolOut(serializers.Serializer):
    device_id = serializers.IntegerField()
    otpauth_uri = serializers.CharField()
    secret = serializers.CharField()


class TotpConfirmIn(serializers.Serializer):
    device_id = serializers.IntegerField()
    otp = serializers.CharField(max_length=32)


class BackupCodesOut(serializers.Serializer):
    backup_codes = serializers.ListField(child=serializers.CharField())


class SignInEventOut(serializers.ModelSerializer):
    class Meta:
        model = SignInEvent
        fields = [
            "id",
            "created_at",
            "kind",
            "username",
            "outcome",
            "reason",
            "channel",
            "ip",
            "host",
            "user_agent",
        ]
