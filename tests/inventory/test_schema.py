import json

from openapi_spec_validator import validate

DOCUMENTED = [
    "/api/v1/stores/",
    "/api/v1/stores/{id}/",
    "/api/v1/products/",
    "/api/v1/products/{id}/",
    "/api/v1/customers/",
    "/api/v1/customers/{id}/",
    "/api/v1/suppliers/",
    "/api/v1/suppliers/{id}/",
    "/api/v1/stock/",
    "/api/v1/stock-movements/",
    "/api/v1/sales/",
    "/api/v1/sales/{sale_id}/",
    "/api/v1/sales/{sale_id}/refund/",
]


def _refs(node, found: set) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/") and ref not in found:
            found.add(ref)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def inventory_part(schema: dict) -> dict:
    """The schema restricted to the inventory paths and the components they use."""
    paths = {
        p: v for p, v in schema["paths"].items() if any(p.startswith(d.split("{")[0]) for d in DOCUMENTED)
    }
    found: set = set()
    _refs(paths, found)
    while True:
        before = len(found)
        for ref in list(found):
            _refs(schema["components"]["schemas"][ref.rsplit("/", 1)[-1]], found)
        if len(found) == before:
            break
    components = {**schema["components"]}
    components["schemas"] = {
        ref.rsplit("/", 1)[-1]: schema["components"]["schemas"][ref.rsplit("/", 1)[-1]] for ref in found
    }
    return {**schema, "paths": paths, "components": components}


def test_the_openapi_schema_validates_and_has_every_inventory_endpoint(api, cast_a):
    response = api().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate(inventory_part(schema))
    for path in DOCUMENTED:
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/v1/sales/"]
    assert "post" in schema["paths"]["/api/v1/stock-movements/"]
    product_list = {p["name"] for p in schema["paths"]["/api/v1/products/"]["get"]["parameters"]}
    assert {"sku", "barcode", "q", "active", "ordering", "page"} <= product_list
    sale_post = {p["name"] for p in schema["paths"]["/api/v1/sales/"]["post"]["parameters"]}
    assert "Idempotency-Key" in sale_post
