import os
import socket
import uuid

import pytest
from django.db import connections

from tenants.catalogue import tenant_table_names
from tenants.context import tenant_context
from tests.conftest import make_tenant, make_user
from tests.exports.conftest import shop_a  # noqa: F401 - a chain built through the API


def backup_now(tenant):
    """A backup of `tenant` made and finished now, through the service (no task queued)."""
    from lifecycle.services.backups import backup_create, backup_run

    return backup_run(tenant=tenant, backup_id=backup_create(tenant=tenant, enqueue=False).pk)


@pytest.fixture
def alerts(settings):
    """The operators' alert mails (ADMINS), kept in memory."""
    from django.core import mail

    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (moto in server mode) on a free local port."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, settings):
    import boto3

    name = f"kassa-test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    settings.KASSA_S3_ENDPOINT_URL = s3_server
    return name


def tenant_rows(tenant) -> dict[str, int]:
    """Rows holding the tenant's id in every table of the schema with a tenant_id column."""
    counts = {}
    with tenant_context(tenant), connections["owner"].cursor() as cursor:
        for table in tenant_table_names():
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE tenant_id = %s', [tenant.pk])
            counts[table] = cursor.fetchone()[0]
    return {table: count for table, count in counts.items() if count}


@pytest.fixture
def chain(transactional_db, django_db_blocker):
    """Alice's chain with stores, staff of every role and an enrolled TOTP device (encrypted)."""
    from accounts.models import TotpDevice, User
    from tenants.models import Store

    tenant = make_tenant("alice-chain", owner="alice")
    with tenant_context(tenant):
        stores = [
            Store.objects.create(name=f"Store {i}", code=f"S{i}", address=f"{i} Main street")
            for i in range(5)
        ]
        alice = User.objects.get(username="alice")
        TotpDevice.objects.create(user=alice, name="phone", secret="3132333435363738393031323334353637383930")
    make_user(tenant, "sam", "store_manager", [stores[0]])
    make_user(tenant, "cody", "cashier", [stores[1]])
    make_user(tenant, "aud", "auditor")
    return tenant


def owner_browser(user):
    """A browser signed in with a second factor, and the backup codes left (for the termination
    page's fresh code)."""
    from tests.conftest import PASSWORD, mfa_enrol, tenant_host, web_client

    codes = mfa_enrol(user)
    client = web_client(tenant_host(user))
    first = client.post("/login/", {"username": user.username, "password": PASSWORD}, secure=True)
    assert first.status_code == 302
    assert client.post("/login/otp/", {"otp": codes[0]}, secure=True).status_code == 302
    return client, codes[1:]
