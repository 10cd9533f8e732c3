from django.core.management import call_command

DOCUMENTED = [
    "/api/v1/auth/token/", "/api/v1/auth/logout/", "/api/v1/me/", "/api/v1/me/password/", "/api/v1/me/access/",
    "/api/v1/me/mfa/totp/", "/api/v1/me/mfa/totp/confirm/", "/api/v1/users/", "/api/v1/roles/",
    "/api/v1/permissions/", "/api/v1/support-grants/", "/api/v1/stores/", "/api/v1/products/",
    "/api/v1/customers/", "/api/v1/suppliers/", "/api/v1/stock/", "/api/v1/stock-movements/", "/api/v1/sales/",
    "/api/v1/sales/{id}/refund/", "/api/v1/audit/access/", "/api/v1/audit/logins/", "/api/v1/audit/changes/",
    "/api/v1/audit/api-calls/", "/api/v1/returns/", "/api/v1/shifts/", "/api/v1/shifts/{shift_id}/",
    "/api/v1/shifts/{shift_id}/cash/", "/api/v1/shifts/{shift_id}/close/", "/api/v1/shifts/{shift_id}/report/",
    "/api/v1/reports/sales/", "/api/v1/reports/tax/", "/api/v1/reports/stock-value/",
    "/api/v1/users/{user_id}/mfa/reset/", "/api/v1/users/{user_id}/reactivate/", "/api/v1/users/{user_id}/keys/",
    "/api/v1/keys/{key_id}/revoke/", "/api/v1/keys/{key_id}/rotate/",
    "/api/v1/purchase-orders/", "/api/v1/purchase-orders/{order_id}/",
    "/api/v1/purchase-orders/{order_id}/order/", "/api/v1/purchase-orders/{order_id}/cancel/",
    "/api/v1/purchase-orders/{order_id}/receive/", "/api/v1/stocktakes/", "/api/v1/stocktakes/{stocktake_id}/",
    "/api/v1/stocktakes/{stocktake_id}/counts/", "/api/v1/stocktakes/{stocktake_id}/finish/",
    "/api/v1/transfers/", "/api/v1/transfers/{transfer_id}/", "/api/v1/transfers/{transfer_id}/receive/",
    "/api/v1/reorder/",
    "/api/v1/refunds/", "/api/v1/products/bulk/", "/api/v1/stock-counts/bulk/",
    "/api/v1/webhooks/", "/api/v1/webhooks/{webhook_id}/", "/api/v1/webhooks/{webhook_id}/deliveries/",
    "/api/v1/webhooks/{webhook_id}/test/",
]  # fmt: skip


def test_the_schema_validates_with_no_warning_and_documents_every_endpoint(tmp_path, db):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    import yaml

    paths = yaml.safe_load(path.read_text())["paths"]
    missing = [p for p in DOCUMENTED if p not in paths and p.replace("{id}", "{sale_id}") not in paths]
    assert not missing
    keys = paths["/api/v1/users/{user_id}/keys/"]
    assert set(keys) >= {"get", "post"} and "201" in keys["post"]["responses"]
    assert "201" in paths["/api/v1/keys/{key_id}/rotate/"]["post"]["responses"]
    assert "204" in paths["/api/v1/users/{user_id}/mfa/reset/"]["post"]["responses"]


def _schema(api) -> dict:
    import json

    response = api().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def test_every_operation_has_an_integrators_summary_and_a_verb_id(api, db):
    import re

    from kassa.openapi import OPERATIONS

    schema = _schema(api)
    seen = set()
    for method, path, operation in _operations(schema):
        assert (method, path) in OPERATIONS, f"document {method} {path} in kassa/openapi.py"
        identifier, summary, _ = OPERATIONS[(method, path)]
        assert operation["operationId"] == identifier and operation["summary"] == summary
        assert re.fullmatch(r"[a-z][a-z0-9_]*", identifier), identifier
        seen.add(identifier)
        if method == "GET" and "results" in str(operation["responses"]["200"]):
            assert identifier.endswith("_list"), (path, identifier)
        assert "Plain CRUD" not in operation.get("description", "")  # no internal docstrings
    assert len(seen) == len(list(_operations(schema)))  # ids are unique
    stale = set(OPERATIONS) - {(m, p) for m, p, _ in _operations(schema)}
    assert not stale, f"kassa/openapi.py names operations that no longer exist: {stale}"


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_request_bodies_have_no_read_only_fields(api, db):
    schema = _schema(api)
    for method, path, operation in _operations(schema):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if not body:
            continue
        component = _resolve(schema, body["schema"])
        for name, field in component.get("properties", {}).items():
            assert not field.get("readOnly"), (method, path, name)
            assert name not in ("id", "created_at", "updated_at"), (method, path, name)
    product = schema["components"]["schemas"]["ProductRequest"]
    assert {"sku", "name", "price", "tax_rate"} <= set(product["required"])


def test_every_operation_documents_its_errors_and_the_rate_limit_headers(api, db):
    schema = _schema(api)
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"code", "detail", "fields"}
    for method, path, operation in _operations(schema):
        responses = operation["responses"]
        for status in ("401", "403", "429"):
            assert responses[status]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
        if "{" in path:
            assert "404" in responses, (method, path)
        if method in ("POST", "PATCH"):
            assert {"400", "413"} <= set(responses), (method, path)
        for status, response in responses.items():
            assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                response["headers"]
            ), (
                method,
                path,
                status,
            )
        assert "Retry-After" in responses["429"]["headers"]
    patch = schema["paths"]["/api/v1/products/{id}/"]["patch"]
    assert "412" in patch["responses"] and "If-Match" in {p["name"] for p in patch["parameters"]}
    assert "ETag" in schema["paths"]["/api/v1/products/{id}/"]["get"]["responses"]["200"]["headers"]
    assert "422" in schema["paths"]["/api/v1/sales/"]["post"]["responses"]


def test_every_list_documents_its_pagination(api, db):
    schema = _schema(api)
    for method, path, operation in _operations(schema):
        if method != "GET" or "results" not in str(operation["responses"]["200"]):
            continue
        names = {p["name"] for p in operation.get("parameters", [])}
        assert "page_size" in names and ("page" in names or "cursor" in names), (path, names)
    for path in ("/api/v1/products/", "/api/v1/customers/", "/api/v1/suppliers/", "/api/v1/categories/",
                 "/api/v1/stock/", "/api/v1/sales/", "/api/v1/refunds/"):  # fmt: skip
        names = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
        assert {"updated_since", "cursor"} <= names, path
