from django.db import DatabaseError


def test_healthz_answers_on_any_host(client, db):
    assert client.get("/healthz", HTTP_HOST="unknown.example").json() == {"status": "ok"}


def test_readyz_checks_database_redis_and_migrations(client, db):
    response = client.get("/readyz", secure=True)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_503_when_the_database_is_unreachable(client, db, monkeypatch):
    from core import health

    def broken(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(health, "connections", {"default": type("C", (), {"cursor": broken})()})
    response = client.get("/readyz", secure=True)
    assert response.status_code == 503
    assert response.json()["problems"] == ["database unreachable"]


def test_readyz_answers_503_when_redis_is_unreachable(client, db, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "unix:///nonexistent.sock",
        }
    }
    response = client.get("/readyz", secure=True)
    assert response.status_code == 503
    assert response.json()["problems"] == ["redis unreachable"]


def test_plain_http_is_redirected_to_https(client, db):
    response = client.get("/login/", HTTP_HOST="127.0.0.1")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_api_schema_is_served(client, db):
    response = client.get("/api/v1/schema/", HTTP_HOST="127.0.0.1", secure=True)
    assert response.status_code == 200
    assert b"openapi" in response.content
