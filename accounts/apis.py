from datetime import timedelta

from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import authz, mfa, selectors, services
from accounts.api_permissions import Can, CanAny, ReadWrite
from accounts.models import ApiToken, Role, RoleAssignment, User
from accounts.permissions import CATALOGUE, GRANT_SUPPORT, MANAGE_ROLES, MANAGE_USERS
from accounts.policy import password_expired, policy_for
from accounts.serializers import (
    ApiTokenOut,
    BackupCodesOut,
    IntegratorKeyIn,
    KeyCreatedOut,
    KeyOut,
    KeyRotatedOut,
    KeyRotateIn,
    MeOut,
    PasswordChangeIn,
    PasswordResetIn,
    PermissionOut,
    RoleSerializer,
    SignInEventOut,
    SupportGrantSerializer,
    SupportTokenIn,
    TokenCreateIn,
    TokenOut,
    TotpConfirmIn,
    TotpEnrolOut,
    UserCreateIn,
    UserOut,
    UserUpdateIn,
)
from accounts.signin import SignInRefused, signin_check
from accounts.tokens import token_issue, token_revoke
from auditlog.models import SignInEvent
from auditlog.services import signin_event_record
from core.api import error_body, page_of, paginate
from core.errors import NotFound
from core.headers import CLEAR_SITE_DATA
from core.pagination import TimeCursorPagination
from idempotency.decorator import idempotent
from tenants.context import tenant_context
from tenants.models import Tenant


def _refused(refusal: SignInRefused) -> Response:
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else {}
    return Response(error_body(refusal.code, refusal.detail), status=refusal.status, headers=headers)


def _tenant_for_signin(request, slug: str | None):
    """The tenant of the host, or the one named in the body; None when unknown."""
    if request.tenant is not None:
        return request.tenant
    return Tenant.objects.filter(slug=slug).first() if slug else None


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class TokenCreateApi(APIView):
    """Sign in and get an API token. A failed attempt is recorded even though the answer is an error."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenCreateIn, responses={201: TokenOut})
    def post(self, request):
        data = TokenCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        if request.tenant is None and not data.validated_data.get("tenant"):
            return Response(
                error_body("invalid", "Validation failed.", {"tenant": ["This field is required."]}), 400
            )
        tenant = _tenant_for_signin(request, data.validated_data.get("tenant"))
        if tenant is not None and tenant.status != Tenant.Status.PURGED:
            # Signed in through the platform host: the attempt is the named tenant's to see.
            request._request.audit_tenant = tenant
        if tenant is None or tenant.status == Tenant.Status.PURGED:
            return Response(error_body("invalid_credentials", "Wrong username or password."), 401)
        if tenant.status == Tenant.Status.SUSPENDED:
            return Response(error_body("tenant_suspended", "This tenant is suspended."), 403)
        with tenant_context(tenant):
            try:
                signed_in = signin_check(
                    request=request._request,
                    username=data.validated_data["username"],
                    password=data.validated_data["password"],
                    otp=data.validated_data.get("otp"),
                    channel="api",
                )
            except SignInRefused as refusal:
                return _refused(refusal)
            token, raw = token_issue(
                user=signed_in.user,
                policy=signed_in.policy,
                password_change_only=signed_in.password_change_required,
                second_factor=signed_in.second_factor,
            )
        body = {
            "token": raw,
            "expires_at": token.expires_at,
            "idle_timeout_seconds": token.idle_timeout_seconds,
            # True for a first, reset or expired password: the token then only allows
            # POST /api/v1/me/password/, GET /api/v1/me/ and logout; the rest answers 403 password_expired.
            "password_change_required": signed_in.password_change_required,
        }
        return Response(body, status=status.HTTP_201_CREATED)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class SupportTokenCreateApi(APIView):
    """Platform staff sign in to a tenant that granted them support access."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=SupportTokenIn, responses={201: TokenOut})
    def post(self, request):
        data = SupportTokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = Tenant.objects.filter(
            slug=data.validated_data["tenant"], status=Tenant.Status.ACTIVE
        ).first()
        request._request.audit_tenant = tenant  # the tenant's log shows support signing in
        with tenant_context(None):
            try:
                signed_in = signin_check(
                    request=request._request,
                    username=data.validated_data["username"],
                    password=data.validated_data["password"],
                    otp=data.validated_data.get("otp"),
                    channel="support",
                )
            except SignInRefused as refusal:
                return _refused(refusal)
        staff = signed_in.user
        if tenant is None or not staff.is_platform_staff:
            return Response(error_body("permission_denied", "No support access to this tenant."), 403)
        with tenant_context(tenant):
            grant = selectors.active_support_grant(staff_username=staff.username)
            if grant is None:
                return Response(error_body("permission_denied", "No support access to this tenant."), 403)
            token, raw = token_issue(
                user=staff,
                policy=signed_in.policy,
                kind=ApiToken.Kind.SUPPORT,
                support_grant=grant,
                second_factor=signed_in.second_factor,
                expires_at=grant.expires_at,
            )
        body = {
            "token": raw,
            "expires_at": token.expires_at,
            "idle_timeout_seconds": token.idle_timeout_seconds,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class LogoutApi(APIView):
    allowed_before_password_change = True

    @extend_schema(request=None, responses={204: None})
    @idempotent
    def post(self, request):
        token_revoke(token=request.auth)
        signin_event_record(
            request=request._request,
            username=request.user.username,
            outcome=SignInEvent.Outcome.SUCCESS,
            channel="api",
            user=request.user,
            kind=SignInEvent.Kind.SIGN_OUT,
        )
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"Clear-Site-Data": CLEAR_SITE_DATA})


def me_payload(user: User, token=None) -> dict:
    assignments = list(RoleAssignment.objects.filter(user=user).select_related("role", "store"))
    policy = policy_for(user)
    return {
        "id": user.pk,
        "username": user.username,
        "full_name": user.full_name,
        "tenant": user.tenant.slug if user.tenant_id else "",
        "roles": list({a.role_id: a.role for a in assignments}.values()),
        "permissions": authz.permissions_of(user),
        "stores": list({a.store_id: a.store for a in assignments if a.store_id}.values()),
        "all_stores": any(a.store_id is None for a in assignments),
        "mfa_enrolled": mfa.has_device(user),
        "mfa_required": policy.mfa_required,
        "password_change_required": password_expired(user, policy),
    }


class MeApi(APIView):
    allowed_before_password_change = True

    @extend_schema(responses=MeOut)
    def get(self, request):
        return Response(MeOut(me_payload(request.user)).data)


class PasswordChangeApi(APIView):
    allowed_before_password_change = True

    @extend_schema(request=PasswordChangeIn, responses={204: None})
    @idempotent
    def post(self, request):
        data = PasswordChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_change(
            user=request.user,
            current_password=data.validated_data["current_password"],
            new_password=data.validated_data["new_password"],
            # A password-change-only token has done its job; a normal one goes on working.
            keep_token=None if request.auth.password_change_only else request.auth,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyAccessApi(APIView):
    @extend_schema(responses=page_of(SignInEventOut, cursor=True))
    def get(self, request):
        history = selectors.signin_history(user=request.user)
        return paginate(request, self, history, SignInEventOut, TimeCursorPagination)


class MyTokensApi(APIView):
    @extend_schema(responses=ApiTokenOut(many=True))
    def get(self, request):
        return Response(ApiTokenOut(selectors.tokens_of(user=request.user), many=True).data)


class MyTokenRevokeApi(APIView):
    @extend_schema(request=None, responses={204: None})
    @idempotent
    def post(self, request, token_id):
        token = selectors.tokens_of(user=request.user).filter(pk=token_id).first()
        if token is None:
            raise NotFound()
        token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TotpEnrolApi(APIView):
    @extend_schema(request=None, responses={201: TotpEnrolOut})
    @idempotent(store_response=False)
    def post(self, request):
        device = mfa.totp_enrol(user=request.user)
        body = {
            "device_id": device.pk,
            "otpauth_uri": mfa.totp_uri(device),
            "secret": mfa.totp_secret_base32(device),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class TotpConfirmApi(APIView):
    @extend_schema(request=TotpConfirmIn, responses={200: BackupCodesOut})
    @idempotent(store_response=False)
    def post(self, request):
        data = TotpConfirmIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            codes = mfa.totp_confirm(user=request.user, **data.validated_data)
        except mfa.MfaError as error:
            return Response(error_body("invalid", "Validation failed.", {"otp": [str(error)]}), status=400)
        return Response({"backup_codes": codes})


class UserListCreateApi(APIView):
    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(operation_id="users_list", responses=page_of(UserOut))
    def get(self, request):
        return paginate(request, self, selectors.users_visible_to(actor=request.user), UserOut)

    @extend_schema(request=UserCreateIn, responses={201: UserOut})
    @idempotent
    def post(self, request):
        data = UserCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, **data.validated_data)
        return Response(UserOut(selectors.user_get(actor=request.user, user_id=user.pk)).data, status=201)


class UserDetailApi(APIView):
    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(responses=UserOut)
    def get(self, request, user_id):
        return Response(UserOut(selectors.user_get(actor=request.user, user_id=user_id)).data)

    @extend_schema(request=UserUpdateIn, responses=UserOut)
    def patch(self, request, user_id):
        user = selectors.user_get(actor=request.user, user_id=user_id)
        data = UserUpdateIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.user_update(user=user, actor=request.user, **data.validated_data)
        return Response(UserOut(selectors.user_get(actor=request.user, user_id=user_id)).data)


class UserDeactivateApi(APIView):
    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(request=None, responses=UserOut)
    @idempotent
    def post(self, request, user_id):
        user = services.user_deactivate(
            user=selectors.user_get(actor=request.user, user_id=user_id), actor=request.user
        )
        return Response(UserOut(user).data)


class UserUnlockApi(APIView):
    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(request=None, responses={204: None})
    @idempotent
    def post(self, request, user_id):
        user = selectors.user_get(actor=request.user, user_id=user_id)
        services.user_unlock(user=user, actor=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserPasswordResetApi(APIView):
    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(request=PasswordResetIn, responses={204: None})
    @idempotent
    def post(self, request, user_id):
        user = selectors.user_get(actor=request.user, user_id=user_id)
        data = PasswordResetIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset(
            user=user, actor=request.user, new_password=data.validated_data["new_password"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserMfaResetApi(APIView):
    """Remove the user's authenticators and backup codes; a fresh enrolment grace; their sessions
    and tokens end. Needs `manage_users` over the user's stores and the caller's own second
    factor; nobody resets their own MFA this way."""

    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(request=None, responses={204: None})
    @idempotent
    def post(self, request, user_id):
        user = selectors.user_get(actor=request.user, user_id=user_id)
        services.user_mfa_reset(user=user, actor=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserReactivateApi(APIView):
    """Turn a deactivated user back on (also after the dormancy job); the password must be
    changed at first use. The same rules as an MFA reset."""

    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(request=None, responses={204: None})
    @idempotent
    def post(self, request, user_id):
        user = selectors.user_get(actor=request.user, user_id=user_id)
        services.user_reactivate(user=user, actor=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _key_body(token, raw: str) -> dict:
    return {
        "id": token.pk,
        "token": raw,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "expires_at": token.expires_at,
        "idle_timeout_seconds": token.idle_timeout_seconds,
    }


class UserKeysApi(APIView):
    """GET: a service user's integrator keys (never their secrets). POST: a new 90-day key with
    `scopes` (required, each held by the user) and an optional IP allow-list; only for service
    users, never for oneself, with the caller's second factor."""

    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(operation_id="users_keys_list", responses=page_of(KeyOut))
    def get(self, request, user_id):
        user = selectors.user_get(actor=request.user, user_id=user_id)
        return paginate(request, self, selectors.keys_of(user=user), KeyOut)

    @extend_schema(request=IntegratorKeyIn, responses={201: KeyCreatedOut})
    @idempotent(store_response=False)
    def post(self, request, user_id):
        user = selectors.user_get(actor=request.user, user_id=user_id)
        data = IntegratorKeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = services.integrator_key_create(user=user, actor=request.user, **data.validated_data)
        return Response(KeyCreatedOut(_key_body(token, raw)).data, status=201)


class KeyRevokeApi(APIView):
    """Revoke an integrator key of a user the caller manages, now."""

    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(request=None, responses={204: None})
    @idempotent
    def post(self, request, key_id):
        services.key_revoke(key=selectors.key_get(actor=request.user, key_id=key_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class KeyRotateApi(APIView):
    """A new secret for the key (same name, scopes, allow-list, 90 days); the old one keeps
    working for `overlap_seconds` (default 24 h), then stops."""

    permission_classes = [Can(MANAGE_USERS)]

    @extend_schema(request=KeyRotateIn, responses={201: KeyRotatedOut})
    @idempotent(store_response=False)
    def post(self, request, key_id):
        key = selectors.key_get(actor=request.user, key_id=key_id)
        data = KeyRotateIn(data=request.data)
        data.is_valid(raise_exception=True)
        overlap = timedelta(seconds=data.validated_data["overlap_seconds"])
        token, raw, old_expires = services.key_rotate(key=key, actor=request.user, overlap=overlap)
        body = {**_key_body(token, raw), "previous_key_expires_at": old_expires}
        return Response(KeyRotatedOut(body).data, status=201)


class RoleListCreateApi(APIView):
    # Those who manage users see the roles they may give.
    permission_classes = [ReadWrite(CanAny(MANAGE_ROLES, MANAGE_USERS), MANAGE_ROLES)]

    @extend_schema(operation_id="roles_list", responses=page_of(RoleSerializer))
    def get(self, request):
        return paginate(request, self, Role.objects.all(), RoleSerializer)

    @extend_schema(request=RoleSerializer, responses={201: RoleSerializer})
    @idempotent
    def post(self, request):
        data = RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = services.role_create(actor=request.user, **data.validated_data)
        return Response(RoleSerializer(role).data, status=201)


class RoleDetailApi(APIView):
    permission_classes = [Can(MANAGE_ROLES)]

    @extend_schema(responses=RoleSerializer)
    def get(self, request, role_id):
        return Response(RoleSerializer(selectors.role_get(role_id=role_id)).data)

    @extend_schema(request=RoleSerializer, responses=RoleSerializer)
    def patch(self, request, role_id):
        role = selectors.role_get(role_id=role_id)
        data = RoleSerializer(role, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        role = services.role_update(role=role, actor=request.user, **data.validated_data)
        return Response(RoleSerializer(role).data)


class PermissionCatalogueApi(APIView):
    @extend_schema(responses=PermissionOut(many=True))
    def get(self, request):
        return Response([{"code": code, "description": text} for code, text in CATALOGUE.items()])


class SupportGrantListCreateApi(APIView):
    permission_classes = [Can(GRANT_SUPPORT)]

    @extend_schema(responses=page_of(SupportGrantSerializer))
    def get(self, request):
        return paginate(request, self, selectors.support_grants(), SupportGrantSerializer)

    @extend_schema(request=SupportGrantSerializer, responses={201: SupportGrantSerializer})
    @idempotent
    def post(self, request):
        data = SupportGrantSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.support_grant_create(actor=request.user, **data.validated_data)
        return Response(SupportGrantSerializer(grant).data, status=201)


class SupportGrantRevokeApi(APIView):
    permission_classes = [Can(GRANT_SUPPORT)]

    @extend_schema(request=None, responses={204: None})
    @idempotent
    def post(self, request, grant_id):
        services.support_grant_revoke(
            grant=selectors.support_grant_get(grant_id=grant_id), actor=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
