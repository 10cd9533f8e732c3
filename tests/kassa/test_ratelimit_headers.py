"""RateLimit-Limit, -Remaining and -Reset on every API answer, from the throttle's own count."""

import time

import pytest

from core.throttling import budget_count, key_for


def budget(answer) -> tuple[int, int, int]:
    return int(answer["RateLimit-Limit"]), int(answer["RateLimit-Remaining"]), int(answer["RateLimit-Reset"])


def test_every_answer_counts_down_the_budget_of_its_token(api, cast_a, settings):
    settings.KASSA_API_RATE = "5/minute"
    client = api(cast_a["owner"])
    answers = [client.get("/api/v1/products/") for _ in range(5)]
    assert [budget(a)[:2] for a in answers] == [(5, 4), (5, 3), (5, 2), (5, 1), (5, 0)]
    assert all(0 < budget(a)[2] <= 60 for a in answers)
    refused = client.get("/api/v1/products/")
    assert refused.status_code == 429 and budget(refused)[:2] == (5, 0)
    assert int(refused["Retry-After"]) == budget(refused)[2]
    assert budget(api(cast_a["owner"]).get("/api/v1/me/"))[:2] == (5, 4)  # another token: its own


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ("no token", 401),
        ("bad token", 401),
        ("no permission", 403),
        ("unknown path", 404),
        ("another tenant's object", 404),
        ("bad input", 400),
        ("too large", 413),
        ("wrong method", 405),
    ],
)
def test_answers_made_before_or_beside_the_throttle_carry_the_headers_too(
    api, cast_a, settings, how, status, tenant_b
):
    import uuid

    from tests.conftest import HttpsApiClient

    settings.KASSA_API_RATE = "100/minute"
    if how == "no token":
        answer = api().get("/api/v1/products/")
    elif how == "bad token":
        answer = HttpsApiClient("kassa_" + "0" * 32 + "_" + "x" * 43).get("/api/v1/products/")
    elif how == "no permission":
        answer = api(cast_a["cashier"]).get("/api/v1/audit/changes/")
    elif how == "unknown path":
        answer = api(cast_a["owner"]).get("/api/v1/nothing-here/")
    elif how == "another tenant's object":
        answer = api(cast_a["owner"]).get(f"/api/v1/products/{uuid.uuid4()}/")
    elif how == "bad input":
        answer = api(cast_a["owner"]).post("/api/v1/products/", {"sku": ""})
    elif how == "too large":
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
        answer = api(cast_a["owner"]).post("/api/v1/products/", {"name": "x" * 500})
    else:
        answer = api(cast_a["owner"]).put("/api/v1/me/", {})
    assert answer.status_code == status, answer.content
    limit, remaining, reset = budget(answer)
    assert limit == 100 and remaining == 99 and reset > 0


def test_a_page_outside_the_api_carries_no_budget(web, cast_a):
    assert "RateLimit-Limit" not in web(cast_a["owner"]).get("/account/", secure=True)


def test_the_budget_comes_from_one_round_trip_per_request(api, cast_a, settings):
    """The counter the headers read is the throttle's: a request that went through both counted once."""
    settings.KASSA_API_RATE = "50/minute"
    client = api(cast_a["owner"])
    client.get("/api/v1/me/")
    answer = client.get("/api/v1/me/")
    assert budget(answer)[1] == 48

    class Token:
        pk = answer.wsgi_request.auth.pk

    class Request:
        auth = Token()

    assert budget_count(key_for(Request()), time.time()).remaining == 47  # this count is the third
