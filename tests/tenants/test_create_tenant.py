import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from tenants.models import Domain, Tenant, TenantKey


def run(*args, stdin: str | None = None) -> str:
    out = io.StringIO()
    if stdin is not None:
        import sys

        old, sys.stdin = sys.stdin, io.StringIO(stdin)
        try:
            call_command("create_tenant", *args, stdout=out)
        finally:
            sys.stdin = old
    else:
        call_command("create_tenant", *args, stdout=out)
    return out.getvalue()


def test_it_creates_tenant_domain_key_and_owner_with_a_given_password(db, as_tenant):
    output = run(
        "acme",
        "--name",
        "Acme",
        "--region",
        "local",
        "--owner",
        "olga",
        "--password-stdin",
        stdin="a-long-passphrase-42\n",
    )
    tenant = Tenant.objects.get(slug="acme")
    assert "a-long-passphrase-42" not in output
    assert Domain.objects.get(tenant=tenant).host == "acme.localhost"
    with as_tenant(tenant):
        assert TenantKey.objects.count() == 1
        owner = User.objects.get(username="olga")
        assert owner.check_password("a-long-passphrase-42")
        assert owner.password.startswith("argon2$argon2id$")
        assert not owner.must_change_password


def test_a_generated_password_is_shown_once_and_must_be_changed(db, as_tenant):
    output = run("acme", "--name", "Acme", "--region", "local", "--owner", "olga")
    password = output.rsplit(": ", 1)[1].strip()
    with as_tenant(Tenant.objects.get(slug="acme")):
        owner = User.objects.get(username="olga")
        assert owner.check_password(password)
        assert owner.must_change_password


def test_another_region_is_refused_and_nothing_is_created(db):
    with pytest.raises(CommandError, match="region 'eu-north' is not served here"):
        run("acme", "--name", "Acme", "--region", "eu-north", "--owner", "olga")
    assert not Tenant.objects.exists()


def test_a_weak_owner_password_is_refused_and_nothing_is_created(db):
    with pytest.raises(CommandError):
        run(
            "acme",
            "--name",
            "Acme",
            "--region",
            "local",
            "--owner",
            "olga",
            "--password-stdin",
            stdin="password\n",
        )
    assert not Tenant.objects.exists()
    assert not Domain.objects.exists()


def test_a_taken_slug_is_refused(tenant_a):
    with pytest.raises(CommandError, match=r"(?i)slug already exists"):
        run("alice-chain", "--name", "Again", "--region", "local", "--owner", "x")
