"""The demo tenant `make run` seeds, so a newcomer sees a living shop."""

import json

from django.conf import settings
from django.db import transaction

from accounts.models import User
from tenants.context import tenant_context
from tenants.models import Tenant
from tenants.services import password_generate, tenant_create, tenant_host

DEMO_SLUG = "demo"
DEMO_OWNER = "owner"


@transaction.atomic
def demo_seed() -> tuple[dict, bool]:
    """Create the demo tenant unless it exists; write and return its owner's credentials."""
    path = settings.VAR_DIR / "demo-credentials.json"
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if tenant is not None and path.exists():
        return json.loads(path.read_text()), False
    password = password_generate()
    if tenant is None:
        tenant_create(
            slug=DEMO_SLUG,
            name="Demo Retail",
            region=settings.KASSA_REGION,
            owner_username=DEMO_OWNER,
            owner_password=password,
        )
    else:  # the credentials file was lost: give the owner a new password
        with tenant_context(tenant):
            owner = User.objects.get(username=DEMO_OWNER)
            owner.set_password(password)
            owner.save(update_fields=["password"])
    credentials = {
        "url": f"https://{tenant_host(DEMO_SLUG)}:8443/",
        "tenant": DEMO_SLUG,
        "users": {DEMO_OWNER: password},
        "username": DEMO_OWNER,
        "password": password,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(credentials, indent=2) + "\n")
    return credentials, tenant is None
