import csv
import io

from tenants.context import tenant_context
from tenants.models import Store
from tests.conftest import PASSWORD, HttpsApiClient


def _results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_sign_in_success_and_failure_are_logged_with_ip_and_host(db, cast_a, api):
    anonymous = HttpsApiClient(host="alice-chain.localhost")
    ok = anonymous.post(
        "/api/v1/auth/token/", {"username": "cody", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3"
    )
    bad = anonymous.post(
        "/api/v1/auth/token/", {"username": "cody", "password": "nope"}, REMOTE_ADDR="10.1.2.4"
    )
    assert ok.status_code == 201 and bad.status_code == 401
    rows = _results(api(cast_a["auditor"]).get("/api/v1/audit/logins/?username=cody"))
    by_outcome = {row["outcome"]: row for row in rows}
    assert (
        by_outcome["success"]["ip"] == "10.1.2.3" and by_outcome["success"]["host"] == "alice-chain.localhost"
    )
    assert by_outcome["failure"]["ip"] == "10.1.2.4" and by_outcome["failure"]["reason"]
    assert by_outcome["failure"]["request_id"] == bad["X-Request-ID"]
    failures = _results(api(cast_a["auditor"]).get("/api/v1/audit/logins/?outcome=failure"))
    assert [row["username"] for row in failures] == ["cody"]


def test_access_log_filters_and_the_read_itself_is_logged(db, cast_a, api):
    auditor = api(cast_a["auditor"])
    auditor.get("/api/v1/me/")
    rows = _results(auditor.get(f"/api/v1/audit/access/?user={cast_a['auditor'].pk}&method=get&status=200"))
    assert rows and all(row["user_id"] == str(cast_a["auditor"].pk) for row in rows)
    second = _results(auditor.get("/api/v1/audit/access/?status=200"))
    assert any(row["path"] == "/api/v1/audit/access/" for row in second)  # reading the log is logged


def test_changes_and_api_calls_can_be_listed(db, cast_a, api, stores_a):
    owner = api(cast_a["owner"])
    owner.patch(f"/api/v1/users/{cast_a['cashier'].pk}/", {"full_name": "Cody"})
    rows = _results(owner.get(f"/api/v1/audit/changes/?model=accounts.user&object_id={cast_a['cashier'].pk}"))
    assert rows[0]["operation"] == "update" and rows[0]["after"] == {"full_name": "Cody"}
    calls = _results(owner.get("/api/v1/audit/api-calls/?method=PATCH"))
    assert calls[0]["path"] == f"/api/v1/users/{cast_a['cashier'].pk}/"


def test_csv_is_streamed(db, cast_a, api):
    auditor = api(cast_a["auditor"])
    auditor.get("/api/v1/me/")
    response = auditor.get("/api/v1/audit/access/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert any(row["path"] == "/api/v1/me/" for row in rows)
    # A client that says it accepts JSON but names the CSV format gets the CSV.
    named = auditor.get("/api/v1/audit/access/?format=csv", HTTP_ACCEPT="application/json")
    assert named.status_code == 200 and named["Content-Type"].startswith("text/csv")


def test_a_store_manager_sees_only_their_stores_entries(db, cast_a, api, stores_a):
    mine, other = stores_a
    owner = api(cast_a["owner"])
    owner.get(f"/api/v1/me/?store={mine.pk}")
    owner.get(f"/api/v1/me/?store={other.pk}")
    with tenant_context(cast_a["owner"].tenant):
        Store.objects.filter(pk__in=[mine.pk, other.pk]).update(address="changed")
    manager = api(cast_a["store_manager"])
    access = _results(manager.get("/api/v1/audit/access/"))
    assert {row["store_id"] for row in access} == {str(mine.pk)}
    changes = _results(manager.get("/api/v1/audit/changes/?model=tenants.store"))
    assert {row["store_id"] for row in changes} == {str(mine.pk)}
    logins = _results(manager.get("/api/v1/audit/logins/"))
    assert all(row["username"] in ("sam", "cody") for row in logins)


def test_another_tenants_entries_are_never_visible(db, cast_a, tenant_b, api):
    from tests.conftest import make_user

    bob_auditor = make_user(tenant_b, "bud", "auditor")
    api(cast_a["owner"]).get("/api/v1/me/")
    for kind in ("access", "logins", "changes", "api-calls"):
        rows = _results(api(bob_auditor).get(f"/api/v1/audit/{kind}/"))
        assert all(row.get("user_id") in (None, str(bob_auditor.pk)) for row in rows), kind
    users_a = {str(u.pk) for u in cast_a.values()}
    rows = _results(api(bob_auditor).get(f"/api/v1/audit/changes/?user={cast_a['owner'].pk}"))
    assert rows == []
    assert not users_a & {
        row["object_id"] for row in _results(api(bob_auditor).get("/api/v1/audit/changes/"))
    }
    # Alice's tenant host refuses Bob's token outright.
    foreign = HttpsApiClient(api(bob_auditor).token, host="alice-chain.localhost").get(
        "/api/v1/audit/access/"
    )
    assert foreign.status_code == 401


def test_reading_the_log_needs_a_log_permission(db, cast_a, api):
    for kind in ("access", "logins", "changes", "api-calls"):
        response = api(cast_a["cashier"]).get(f"/api/v1/audit/{kind}/")
        assert response.status_code == 403, kind
        assert response.json()["code"] == "permission_denied"
    assert api().get("/api/v1/audit/access/").status_code == 401
