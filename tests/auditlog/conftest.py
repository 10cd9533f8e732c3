import pytest
from django.db import connection

from tenants.context import tenant_context
from tests.conftest import HttpsApiClient, token_for


def access_rows(request_id, tenant=None) -> list[dict]:
    """Access entries of one request, read by raw SQL as the app role under `tenant` (or none)."""
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM auditlog_access WHERE request_id = %s", [str(request_id)])
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def tenant_api():
    """`tenant_api(user)`: a token client on the user's tenant host."""

    def make(user):
        return HttpsApiClient(token_for(user), host=f"{user.tenant.slug}.localhost")

    return make
