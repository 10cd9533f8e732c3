"""Import a full export's JSON Lines into a new, empty tenant (`manage.py import_tenant FILE --as SLUG`).

The new tenant gets its own domain and data key (`lifecycle.services.restore.tenant_shell_create`:
region check included). In one maintenance-role transaction: each entity's rows go into a temporary
table (`jsonb_populate_recordset`, so PostgreSQL parses every value by the column's type),
decrypted values are encrypted with the new tenant's key, lookup hashes recomputed under it,
and users get an unusable password (passwords are never exported: they must be reset). Every
uuid or serial primary key gets a new value through a map table and every foreign key follows
its map (lifecycle.services.remap, as a restore does), so the import works while the source
tenant still exists. The change-log rows the load itself wrote are removed before the exported
change log is inserted. Before commit, each entity is read back with the source's ids and must
give the manifest's row count and JSONL SHA-256 exactly; otherwise nothing is kept. Then, still
before commit, every erasure the platform's ledger holds for the source tenant is replayed on
the imported rows (`exports.customers.erasures_replay`, as a restore does): an export taken
before a customer's erasure imports that customer anonymised, and the new tenant's ledger gets
the entry under the new ids.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from auditlog.deletion import rows_delete
from exports import rows
from exports.builder import FORMAT
from exports.catalogue import DERIVED_COLUMNS, SCHEMA_VERSION, entities
from exports.customers import erasures_replay, erasures_replayed_record
from exports.errors import ExportError
from inventory import hashing
from inventory.sync import KEEP_STAMPS_SQL
from lifecycle.services.purge import tenant_delete
from lifecycle.services.remap import insert_select, key_map_create, mapped_back_query
from lifecycle.services.restore import tenant_shell_create
from tenants import crypto
from tenants.catalogue import TRIGGER_FED_TABLES
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance, maintenance_transaction, quote, uuid_literal
from tenants.models import Tenant

BATCH_ROWS = 1000
UNUSABLE_PASSWORD_SQL = "'!' || md5(gen_random_uuid()::text) || md5(gen_random_uuid()::text)"  # noqa: S105  # nosec B105 - no password can match it
DERIVE = {"email": hashing.email_hash, "phone": hashing.phone_hash}


@dataclass
class ImportResult:
    tenant: Tenant
    rows: dict[str, int] = field(default_factory=dict)


@as_maintenance()
def tenant_import(*, path, slug: str, on_progress=None) -> ImportResult:
    with zipfile.ZipFile(path) as archive:
        try:
            manifest = json.loads(archive.read("manifest.json"))
        except KeyError:
            raise ExportError("not a Kassa export (no manifest.json)", code="invalid") from None
        if manifest.get("format") != FORMAT or manifest.get("kind") != "full":
            raise ExportError("only a full Kassa export can be imported", code="invalid")
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise ExportError(
                f"export schema version {manifest.get('schema_version')} is not {SCHEMA_VERSION}",
                code="invalid",
            )
        try:
            target = tenant_shell_create(
                slug=slug, name=manifest["tenant"]["name"], region=manifest["tenant"]["region"]
            )
        except ValidationError as error:
            raise ExportError("; ".join(error.messages), code="invalid") from None
        replayed: list[dict] = []
        try:
            counts = _load(archive, manifest, target, on_progress, replayed)
        except BaseException:
            tenant_delete(tenant=target)
            raise
    erasures_replayed_record(tenant=target, replayed=replayed)
    Tenant.objects.filter(pk=target.pk).update(status=Tenant.Status.ACTIVE)
    target.refresh_from_db()
    return ImportResult(tenant=target, rows=counts)


def _load(archive, manifest, target, on_progress, replayed: list) -> dict[str, int]:
    source_id = manifest["tenant"]["id"]
    ours = {e.name: e for e in entities("full")}
    order = [name for name in manifest["order"] if manifest["entities"][name]["rows"] or name in ours]
    for name in order:
        if name not in ours or not set(manifest["entities"][name]["columns"]) <= set(
            ours[name].table.columns
        ):
            raise ExportError(f"entity {name} of the export does not fit this schema", code="invalid")
    total = max(sum(manifest["entities"][n]["rows"] for n in order), 1)
    done = 0
    maps: dict[str, str] = {}
    with maintenance_transaction(target) as cursor:
        cursor.execute(KEEP_STAMPS_SQL)  # rows keep their updated_at (inventory.sync)
        for i, name in enumerate(order):
            table = ours[name].table
            columns = manifest["entities"][name]["columns"]
            stage = f"kassa_import_{i}"
            staged = [c for c in table.columns if c != "tenant_id"]
            cursor.execute(
                f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {', '.join(quote(c) for c in staged)} FROM {quote(name)} WITH NO DATA"  # noqa: S608
            )
            derived = {c: s for (t, c), s in DERIVED_COLUMNS.items() if t == name}
            batch: list[dict] = []
            with archive.open(f"{name}.jsonl") as lines:
                for line in lines:
                    row = json.loads(line)
                    with tenant_context(target):
                        for column, source in derived.items():  # from the plaintext, before encrypting
                            row[column] = DERIVE[source](row.get(source))
                        for column, purpose in table.encrypted.items():
                            if row.get(column) is not None:
                                row[column] = (
                                    "\\x" + crypto.encrypt(row[column].encode(), purpose=purpose).hex()
                                )
                    batch.append(row)
                    if len(batch) >= BATCH_ROWS:
                        _stage(cursor, stage, batch)
                        done += len(batch)
                        batch = []
                        if on_progress:
                            on_progress(min(90, done * 90 // total))
            if batch:
                _stage(cursor, stage, batch)
                done += len(batch)
            if key_map_create(cursor, table, stage=stage, name=f"kassa_import_map_{i}"):
                maps[name] = f"kassa_import_map_{i}"
            if name in TRIGGER_FED_TABLES:  # what this load's own inserts logged
                rows_delete(cursor, name, where="tenant_id = %s", params=[target.pk])
            insert_columns = [
                c for c in staged if c in columns or (name, c) in DERIVED_COLUMNS or c == "password"
            ]
            select, joins = insert_select(
                table,
                insert_columns,
                maps,
                source_id=source_id,
                target_id=target.pk,
                replace={"password": UNUSABLE_PASSWORD_SQL} if name == "accounts_user" else None,
            )
            cursor.execute(
                f"INSERT INTO {quote(name)} (tenant_id, {', '.join(quote(c) for c in insert_columns)}) "  # noqa: S608
                f"SELECT {uuid_literal(target.pk)}, {select} FROM {stage} s {joins}"
            )
        # Read back as exported, with the source's ids: counts and checksums must match.
        counts = {}
        raw = cursor.connection
        for name in order:
            entity = ours[name]
            columns = manifest["entities"][name]["columns"]
            positions = [
                (i, entity.table.encrypted[c]) for i, c in enumerate(columns) if c in entity.table.encrypted
            ]
            json_columns = rows.json_positions(columns, entity.table.types)
            digest, count = hashlib.sha256(), 0
            with raw.cursor(name=f"kassa_import_check_{name}") as named:
                named.execute(
                    mapped_back_query(entity.table, columns, maps, source_id=source_id, target_id=target.pk)
                )
                for values in rows.fetch(named):
                    if positions:
                        rows.decrypted(values, positions)
                    rows.parsed(values, json_columns)
                    digest.update(rows.json_line(columns, values))
                    count += 1
            expected = manifest["entities"][name]
            if count != expected["rows"] or digest.hexdigest() != expected["files"]["jsonl"]["sha256"]:
                raise ExportError(
                    f"entity {name} differs from the export after loading", code="import_mismatch"
                )
            counts[name] = count
        # The erasures the platform remembers, which the export may predate: erased again before
        # this transaction commits, so no one ever sees the imported customer.
        replayed += erasures_replay(
            cursor=cursor, source_id=source_id, target=target, customer_map=maps.get("inventory_customer")
        )
    if on_progress:
        on_progress(100)
    return counts


def _stage(cursor, stage: str, batch: list[dict]) -> None:
    cursor.execute(
        f"INSERT INTO {stage} SELECT * FROM jsonb_populate_recordset(NULL::{stage}, %s::jsonb)",  # noqa: S608
        [json.dumps(batch)],
    )
