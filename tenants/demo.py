"""The demo tenant `make run` seeds, so a newcomer sees a living shop."""

import json

from django.conf import settings
from django.db import transaction

from tenants.models import Tenant
from tenants.services import password_generate, tenant_create, tenant_host

DEMO_SLUG = "demo"
DEMO_OWNER = "owner"


@transaction.atomic
def demo_seed() -> tuple[dict, bool]:
    """Create the demo tenant unless it exists; return its owner's credentials and whether it was new."""
    path = settings.VAR_DIR / "demo-credentials.json"
    if Tenant.objects.filter(slug=DEMO_SLUG).exists() and path.exists():
        return json.loads(path.read_text()), False
    password = password_generate()
    tenant_create(
        slug=DEMO_SLUG,
        name="Demo Retail",
        region=settings.KASSA_REGION,
        owner_username=DEMO_OWNER,
        owner_password=password,
    )
    credentials = {
        "url": f"https://{tenant_host(DEMO_SLUG)}:8443/",
        "tenant": DEMO_SLUG,
        "users": {DEMO_OWNER: password},
        "username": DEMO_OWNER,
        "password": password,
    }
    return credentials, True
