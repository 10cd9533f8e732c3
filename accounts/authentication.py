from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from accounts import authz
from accounts.models import ApiToken
from accounts.permissions import SUPPORT_ALLOWED
from accounts.tokens import TokenRejected, token_find, token_tenant_id, token_validate
from core.net import client_ip
from tenants.context import tenant_activate
from tenants.models import Tenant


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer kassa_…`: selects the token's tenant, then checks the token under it."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Malformed Authorization header.", code="not_authenticated")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token.", code="not_authenticated") from None
        tenant_id = token_tenant_id(raw)
        host_tenant = getattr(request._request, "tenant", None)
        if tenant_id is None or (host_tenant is not None and host_tenant.pk != tenant_id):
            raise AuthenticationFailed("Invalid token.", code="not_authenticated")
        # The token's tenant selects the rows; its status is read fresh with the token (one query).
        tenant_activate(host_tenant if host_tenant is not None else Tenant(pk=tenant_id))
        found = token_find(raw)
        tenant = found.tenant if found is not None else None
        if tenant is None or tenant.status in (Tenant.Status.PURGED,):
            raise AuthenticationFailed("Invalid token.", code="not_authenticated")
        if host_tenant is None and found.kind == ApiToken.Kind.INTEGRATOR:
            # The platform host serves platform staff; a tenant's key works on its tenant's host.
            raise AuthenticationFailed("Use this key on its tenant's host.", code="not_authenticated")
        if tenant.status == Tenant.Status.SUSPENDED:
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied("This tenant is suspended.", code="tenant_suspended")
        tenant_activate(tenant)
        request._request.tenant = tenant
        try:
            token = token_validate(found, ip=client_ip(request))
        except TokenRejected as rejected:
            detail = "The token has expired." if rejected.code == "token_expired" else "Invalid token."
            raise AuthenticationFailed(detail, code=rejected.code) from None
        user = token.user
        authz.grant_rows_set(user, token.grant_rows)
        authz.second_factor_set(user, token.second_factor)
        if token.support_grant_id is not None:
            # A grant made before the limit (SUPPORT_ALLOWED) still holds no more than it allows.
            authz.grant_for_support(
                user, [p for p in token.support_grant.permissions if p in SUPPORT_ALLOWED]
            )
        elif token.scopes:
            authz.restrict(user, token.scopes)
        return user, token

    def authenticate_header(self, request):
        return 'Bearer realm="kassa"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A Kassa API token (kassa_…)."}
