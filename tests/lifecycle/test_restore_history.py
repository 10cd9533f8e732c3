"""Issue 15, item 3: a restore into the same tenant cannot rewrite history or revive credentials."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiToken, User
from auditlog import sealing
from auditlog.models import AccessEvent, PlatformEvent, SignInEvent
from auditlog.services import audit_verify
from lifecycle.services.backups import backup_create, backup_run
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tests.conftest import DATABASES, PASSWORD, HttpsApiClient, token_for
from tests.lifecycle.conftest import tenant_rows

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)


def sign_in(tenant, username, password=PASSWORD):
    return HttpsApiClient().post(
        "/api/v1/auth/token/", {"tenant": tenant.slug, "username": username, "password": password}
    )


def me(token):
    return HttpsApiClient(token).get("/api/v1/me/")


def test_a_same_tenant_restore_keeps_newer_history_and_revokes_what_it_brings_back(chain):
    with tenant_context(chain):
        aud, sam = User.objects.get(username="aud"), User.objects.get(username="sam")
    kept_token, revoked_later = token_for(aud), token_for(sam)
    users = tenant_rows(chain)["accounts_user"]
    assert me(kept_token).status_code == 200
    backup = backup_run(tenant=chain, backup_id=backup_create(tenant=chain, enqueue=False).pk)

    # After the backup: sign-ins (a new token), a revoked token, a password change, a
    # deactivation, and the audit entries of it all, sealed.
    issued_later = sign_in(chain, "cody")
    assert issued_later.status_code == 201, issued_later.content
    issued_later = issued_later.json()["token"]
    with tenant_context(chain):
        ApiToken.objects.filter(user__username="sam").update(revoked_at="2026-01-01T00:00:00Z")
        sam = User.objects.get(username="sam")
        sam.set_password("A new password 2026 for Sam!")
        sam.save(update_fields=["password"])
        User.objects.filter(username="aud").update(is_active=False)
    assert me(revoked_later).status_code == 401
    sealing.seal_create(tenant=chain, delay=timedelta(0))
    with tenant_context(chain):
        newer_signins = set(SignInEvent.objects.values_list("id", flat=True))
        newer_access = set(AccessEvent.objects.values_list("id", flat=True))
    assert newer_signins and newer_access

    with pytest.raises(CommandError, match="--yes"):
        call_command("restore_tenant", str(backup.pk), stdout=io.StringIO())
    with tenant_context(chain):
        assert User.objects.get(username="sam").check_password("A new password 2026 for Sam!")
    out = io.StringIO()
    call_command("restore_tenant", str(backup.pk), "--yes", stdout=out)

    with tenant_context(chain):
        # History: every entry made after the backup is still there, and the chain verifies.
        assert newer_signins <= set(SignInEvent.objects.values_list("id", flat=True))
        assert newer_access <= set(AccessEvent.objects.values_list("id", flat=True))
        restored = AccessEvent.objects.get(method="RESTORE")
        assert restored.path == f"/api/v1/backups/{backup.pk}/"
        sam = User.objects.get(username="sam")
        assert sam.must_change_password and sam.check_password(PASSWORD)  # the backup's password
        assert not User.objects.get(username="aud").is_active  # deactivated since: stays so
        assert not User.objects.get(username="alice").must_change_password
        assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()
    with as_maintenance():
        result = audit_verify(tenant=chain)
    assert result["intact"], result
    # Credentials: none of the restored or newer tokens works.
    for token in (kept_token, revoked_later, issued_later):
        assert me(token).status_code == 401
    with as_maintenance():
        event = PlatformEvent.objects.get(kind="tenant_restored", subject_tenant=chain.pk)
    assert event.detail["backup"] == str(backup.pk)
    assert event.detail["tokens_revoked"] >= 1 and event.detail["password_change_forced"] == 1
    assert "manage.py restore_tenant" in event.actor
    assert "tokens revoked" in out.getvalue()
    assert tenant_rows(chain)["accounts_user"] == users
