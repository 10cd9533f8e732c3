"""A tenant's start: the tenant, its domain, its data key, the built-in roles and the owner.

The maintenance role's (manage.py create_tenant): the application role may not write tenants.
"""

import secrets
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from accounts.models import Role, User
from accounts.permissions import OWNER
from accounts.services import roles_seed, user_create
from auditlog.models import PlatformEvent
from auditlog.services import platform_event_record
from tenants import crypto
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Domain, Tenant
from tenants.selectors import tenant_host
from tenants.timezones import DEFAULT_TIME_ZONE

PASSWORD_ALPHABET = string.ascii_letters + string.digits


def password_generate(length: int = 20) -> str:
    """A random password with letters and digits that passes every default policy."""
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


@as_maintenance()
@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    region: str,
    owner_username: str,
    owner_password: str,
    owner_must_change_password: bool = False,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> tuple[Tenant, User]:
    """Create a tenant with its domain, its data key and its owner, all or nothing."""
    if region != settings.KASSA_REGION:
        raise ValidationError(
            gettext("region %(region)s is not served here; this deployment serves %(served)s")
            % {"region": repr(region), "served": repr(settings.KASSA_REGION)},
            code="wrong_region",
        )
    tenant = Tenant(slug=slug, name=name, region=region, time_zone=time_zone)
    tenant.full_clean()
    tenant.save()
    Domain.objects.create(host=tenant_host(slug), tenant=tenant)
    with tenant_context(tenant):
        crypto.data_key_create()
        roles_seed()
        owner = user_create(
            roles=[Role.objects.get(builtin=OWNER)],
            username=owner_username,
            password=owner_password,
            must_change_password=owner_must_change_password,
        )
    transaction.on_commit(
        lambda: platform_event_record(
            kind=PlatformEvent.Kind.TENANT_CREATED, tenant=tenant, detail={"region": region}
        )
    )
    return tenant, owner
