"""Build an export ZIP: per entity `<table>.jsonl` and `<table>.csv`, then manifest.json and README.md.

Rows are read as the application role with the tenant selected (row-level security applies:
an export needs no privilege) in one REPEATABLE READ READ ONLY transaction on its second
connection (alias `snapshot`), so every file describes the same moment while progress is written
on the default one, through a server-side cursor, and written straight into the ZIP (JSON Lines)
and a temporary file (CSV, copied into the ZIP after its table): memory stays flat whatever the
tenant's size.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import IO

from django.db import connections
from django.utils import timezone

from exports import rows
from exports.catalogue import (
    DERIVED_COLUMNS,
    EXCLUDED_TABLES,
    SCHEMA_VERSION,
    Entity,
    column_descriptions,
    entities,
)
from tenants.maintenance import migration_state, quote, tenant_transaction

FETCH_ROWS = 2000
SNAPSHOT = "snapshot"  # the default role's second connection (settings.DATABASES)
FORMAT = "kassa-export"


def select_sql(entity: Entity) -> str:
    columns = ", ".join(quote(c) for c in entity.columns)
    return f"SELECT {columns} FROM {quote(entity.name)} WHERE tenant_id = %s ORDER BY {entity.table.order_by}"  # noqa: S608


def zip_build(
    *, tenant, export_id, kind: str, out: IO[bytes], on_progress: Callable[[int], None] | None = None
) -> dict:
    """Write the export's ZIP into `out`; return its manifest."""
    import zipfile

    chosen = entities(kind)
    manifest_entities: dict[str, dict] = {}
    with tenant_transaction(tenant, using=SNAPSHOT, snapshot=True) as cursor:
        migrations = migration_state(cursor)
        totals = {}
        for entity in chosen:
            cursor.execute(f"SELECT count(*) FROM {quote(entity.name)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
            totals[entity.name] = cursor.fetchone()[0]
        total, done, shown, last_report = max(sum(totals.values()), 1), 0, 0, time.monotonic()
        raw = connections[SNAPSHOT].connection
        with zipfile.ZipFile(
            out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True
        ) as archive:
            for entity in chosen:
                positions = [
                    (i, entity.table.encrypted[c])
                    for i, c in enumerate(entity.columns)
                    if c in entity.encrypted
                ]
                json_columns = rows.json_positions(entity.columns, entity.table.types)
                jsonl_hash, csv_hash, count = hashlib.sha256(), hashlib.sha256(), 0
                csv_lines = rows.CsvLines()
                with tempfile.TemporaryFile() as csv_file:
                    header = csv_lines.line(entity.columns)
                    csv_file.write(header)
                    csv_hash.update(header)
                    with (
                        archive.open(f"{entity.name}.jsonl", "w", force_zip64=True) as jsonl_file,
                        raw.cursor(name=f"kassa_export_{entity.name}") as named,
                    ):
                        named.execute(select_sql(entity), [tenant.pk])
                        for values in rows.fetch(named, FETCH_ROWS):
                            if positions:
                                rows.decrypted(values, positions)
                            if json_columns:
                                rows.parsed(values, json_columns)
                            line = rows.json_line(entity.columns, values)
                            jsonl_file.write(line)
                            jsonl_hash.update(line)
                            line = csv_lines.line(values)
                            csv_file.write(line)
                            csv_hash.update(line)
                            count += 1
                            done += 1
                            if done % 1000 == 0 and on_progress:
                                percent = min(99, done * 99 // total)
                                if percent > shown or time.monotonic() - last_report > 10:
                                    shown, last_report = percent, time.monotonic()
                                    on_progress(percent)
                    csv_file.seek(0)
                    with archive.open(f"{entity.name}.csv", "w", force_zip64=True) as member:
                        shutil.copyfileobj(csv_file, member, 1024 * 1024)
                manifest_entities[entity.name] = {
                    "rows": count,
                    "columns": entity.columns,
                    "encrypted_columns": sorted(entity.encrypted),
                    "files": {
                        "jsonl": {"name": f"{entity.name}.jsonl", "sha256": jsonl_hash.hexdigest()},
                        "csv": {"name": f"{entity.name}.csv", "sha256": csv_hash.hexdigest()},
                    },
                }
            manifest = {
                "format": FORMAT,
                "schema_version": SCHEMA_VERSION,
                "export": str(export_id),
                "kind": kind,
                "tenant": {
                    "id": str(tenant.pk),
                    "slug": tenant.slug,
                    "name": tenant.name,
                    "region": tenant.region,
                },
                "created_at": timezone.now().isoformat(),
                "migrations": migrations,
                "order": [entity.name for entity in chosen],
                "entities": manifest_entities,
                "excluded_tables": {name: reason for name, reason in EXCLUDED_TABLES.items()},
                "excluded_columns": "password, token/key/code hashes, wrapped keys, OTP secrets (never exported)",
                "derived_columns": {
                    f"{t}.{c}": f"recomputed from {s} on import" for (t, c), s in DERIVED_COLUMNS.items()
                },
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
            archive.writestr("README.md", readme(chosen, manifest))
    return manifest


def readme(chosen: list[Entity], manifest: dict) -> str:
    lines = [
        f"# Kassa export of {manifest['tenant']['slug']} ({manifest['kind']})",
        "",
        f"Made {manifest['created_at']}, schema version {manifest['schema_version']}.",
        "",
        "Every entity (a table of the chain's data) is here twice: `<table>.jsonl` (JSON Lines, one row",
        "per line, values as stored: ids and decimals as strings, times in ISO 8601 UTC, bytes as",
        "`\\x<hex>`) and `<table>.csv` (RFC 4180 with a header row; a text cell starting with = + - @ | %",
        "or a control character is prefixed with `'` so spreadsheets do not run it as a formula).",
        "`manifest.json` gives each entity's row count and the SHA-256 of both files.",
        "Encrypted fields (customer contact data) are decrypted. Never exported: passwords and",
        "password history, API tokens, sessions, MFA secrets and backup codes, data keys.",
        "Import into a new tenant: `manage.py import_tenant FILE --as SLUG` (imported users must set",
        "a new password).",
        "",
    ]
    for entity in chosen:
        lines += [f"## {entity.name} ({manifest['entities'][entity.name]['rows']} rows)", ""]
        lines += ["| column | type | meaning |", "| --- | --- | --- |"]
        for column, column_type, text in column_descriptions(entity):
            lines.append(f"| {column} | {column_type} | {text} |")
        lines.append("")
    return "\n".join(lines)
