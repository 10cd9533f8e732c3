"""A typed client generated with openapi-python-client from the live schema drives a short sync.

A real server (gunicorn over HTTPS on a free port) and a real Celery worker; the client is
generated into a temporary directory from the schema that server answers, with no warning
allowed, then a script run by this Python uses it as an integrator would: register a webhook,
create, page, walk the delta, bulk upsert, and read errors as the `Error` model. The webhook
deliveries reach a local receiver. If the schema drifts from what the code answers, a step
fails (a parse error, a missing field, a status the client does not know).

openapi-python-client must be installed in this venv (it is a dev dependency): without it the
test fails, it does not skip.
"""

import json
import os
import ssl
import subprocess
import sys
import textwrap
import urllib.request

from django.db import connections

from tests.conftest import start_worker, stop_worker, token_for, transactional
from tests.deploy.test_two_nodes import Node
from tests.integrations.conftest import verify

GENERATOR_CONFIG = """
post_hooks: []
content_type_overrides:
  application/zip: application/octet-stream
"""

DRIVER = textwrap.dedent(
    """
    import datetime, json, sys, urllib.parse, uuid
    from kassa_client import AuthenticatedClient
    from kassa_client.api.products import (
        products_bulk_upsert, products_create, products_list, products_partial_update, products_retrieve,
    )
    from kassa_client.api.webhooks import webhooks_create
    from kassa_client.models import (
        Error, PaginatedProductList, PatchedProductRequest, Product, ProductBulkInRequest, ProductRequest,
        WebhookInRequest,
    )

    base, token, hook = sys.argv[1:4]
    client = AuthenticatedClient(base_url=base, token=token, verify_ssl=False, raise_on_unexpected_status=True)
    report = {}

    webhook = webhooks_create.sync(client=client, body=WebhookInRequest.from_dict(
        {"url": hook, "events": ["product.changed"]}))
    report["secret"] = webhook.secret

    created = []
    for n in range(5):
        product = products_create.sync(
            client=client,
            body=ProductRequest.from_dict({"sku": f"GEN-{n}", "name": f"Generated {n}", "price": "1.50",
                                           "tax_rate": "24.00"}),
            idempotency_key=str(uuid.uuid4()),
        )
        assert isinstance(product, Product), product
        created.append(product.id)
    report["created"] = [str(pk) for pk in created]

    pages, page = [], 1
    while True:
        answer = products_list.sync(client=client, page=page, page_size=2)
        assert isinstance(answer, PaginatedProductList)
        pages.append([p.sku for p in answer.results])
        if not answer.next_:
            break
        page += 1
    report["pages"] = pages

    def delta(since):
        rows, cursor = [], None
        while True:
            kwargs = {"cursor": cursor} if cursor else {"updated_since": since}
            answer = products_list.sync(client=client, page_size=2, **kwargs)
            rows += answer.results
            if not answer.next_:
                return rows
            cursor = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.next_).query)["cursor"][0]

    walked = delta(datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))
    report["delta"] = [p.sku for p in walked]
    mark = walked[-1].updated_at

    bulk = products_bulk_upsert.sync(client=client, body=ProductBulkInRequest.from_dict({"products": [
        {"sku": "GEN-1", "price": "1.75"},
        {"sku": "GEN-9", "name": "From the ERP", "price": "3.00", "tax_rate": "14.00", "external_id": "ERP-9"},
        {"sku": "GEN-0", "price": "-1"},
    ]}), idempotency_key=str(uuid.uuid4()))
    report["bulk"] = [(r.sku, r.status.value) for r in bulk.results]
    report["bulk_fields"] = bulk.results[2].fields.to_dict()
    report["delta_after_bulk"] = sorted(p.sku for p in delta(mark))

    detailed = products_retrieve.sync_detailed(client=client, id=created[0])
    tag = detailed.headers["etag"]
    report["ratelimit"] = [detailed.headers.get(h) is not None for h in
                           ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")]
    fresh = products_partial_update.sync(client=client, id=created[0],
                                         body=PatchedProductRequest.from_dict({"name": "Renamed"}), if_match=tag)
    stale = products_partial_update.sync_detailed(client=client, id=created[0],
                                                  body=PatchedProductRequest.from_dict({"name": "Lost"}), if_match=tag)
    report["stale"] = [int(stale.status_code), isinstance(stale.parsed, Error) and stale.parsed.code]
    missing = products_retrieve.sync_detailed(client=client, id=uuid.uuid4())
    report["missing"] = [int(missing.status_code), isinstance(missing.parsed, Error) and missing.parsed.code]
    invalid = products_create.sync_detailed(client=client, body=ProductRequest.from_dict(
        {"sku": "GEN-X", "name": "No tax", "price": "1.00", "tax_rate": "500"}))
    report["invalid"] = [int(invalid.status_code), invalid.parsed.code, sorted(invalid.parsed.fields.to_dict())]
    print(json.dumps(report))
    """
)


def _generate(schema_path, out_dir) -> subprocess.CompletedProcess:
    config = out_dir.parent / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    return subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(schema_path), "--meta", "none",
         "--output-path", str(out_dir), "--config", str(config), "--overwrite"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@transactional
def test_a_client_generated_from_the_live_schema_drives_a_sync(cast_a, tmp_path, receiver):
    check = subprocess.run(
        [sys.executable, "-c", "import openapi_python_client"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, (
        "openapi-python-client is not installed in this venv: it is a dev dependency in pyproject.toml "
        "(make lock, then install requirements.lock); this test does not skip."
    )
    hooks = receiver()
    env = {**os.environ, "KASSA_DB_NAME": connections["default"].settings_dict["NAME"]}
    node = Node(tmp_path, env)
    worker, _ = start_worker()
    try:
        context = ssl._create_unverified_context()
        request = urllib.request.Request(
            f"https://127.0.0.1:{node.port}/api/v1/schema/?format=json", headers={"Host": "127.0.0.1"}
        )
        with urllib.request.urlopen(request, context=context, timeout=60) as answer:
            schema = tmp_path / "schema.json"
            schema.write_bytes(answer.read())
        generated = _generate(schema, tmp_path / "kassa_client")
        assert generated.returncode == 0, generated.stdout + generated.stderr
        assert "Warning" not in generated.stdout + generated.stderr, generated.stdout + generated.stderr
        token = token_for(cast_a["owner"])
        run = subprocess.run(
            [sys.executable, "-c", DRIVER, f"https://127.0.0.1:{node.port}", token, hooks.url()],
            capture_output=True, text=True, timeout=300, check=False,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        report = json.loads(run.stdout.strip().splitlines()[-1])
        assert report["pages"] == [["GEN-0", "GEN-1"], ["GEN-2", "GEN-3"], ["GEN-4"]]
        assert sorted(report["delta"]) == [f"GEN-{n}" for n in range(5)]
        assert report["bulk"] == [["GEN-1", "updated"], ["GEN-9", "created"], ["GEN-0", "invalid"]]
        assert "price" in report["bulk_fields"]
        assert report["delta_after_bulk"] == ["GEN-1", "GEN-9"]
        assert report["ratelimit"] == [True, True, True]
        assert report["stale"] == [412, "precondition_failed"]
        assert report["missing"] == [404, "not_found"]
        assert report["invalid"] == [400, "invalid", ["tax_rate"]]
        # The worker delivered the product changes to the receiver, signed with the secret shown once.
        requests = hooks.wait_for(5 + 2 + 1, timeout=60)  # 5 created, 2 by the bulk, 1 rename
        assert all(verify(report["secret"], r["headers"]["kassa-signature"], r["body"]) for r in requests)
        skus = [json.loads(r["body"])["data"]["sku"] for r in requests]
        assert skus[:5] == [f"GEN-{n}" for n in range(5)] and set(skus[5:]) == {"GEN-1", "GEN-9", "GEN-0"}
    finally:
        stop_worker(worker)
        node.stop()
