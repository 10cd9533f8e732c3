"""Restore a backup into its own tenant (replacing its data) or into a new tenant."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from auditlog.deletion import rows_delete
from core.storage import WrongRegion, storage_for_region
from exports.customers import erasures_replay, erasures_replayed_record
from lifecycle import archive
from lifecycle.errors import LifecycleError
from lifecycle.models import Backup
from lifecycle.services.backups import TableDigest, archive_verify, copy_out
from lifecycle.services.purge import tenant_delete
from lifecycle.services.remap import insert_select, key_map_create, mapped_back_query, stage_reencrypt
from tenants import crypto
from tenants.catalogue import TRIGGER_FED_TABLES, tenant_tables
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance, maintenance_transaction, migration_state, quote
from tenants.models import Domain, Tenant
from tenants.selectors import tenant_host

logger = logging.getLogger(__name__)


@dataclass
class RestoreResult:
    tenant: Tenant
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return sum(self.rows.values())


@as_maintenance()
def tenant_shell_create(*, slug: str, name: str, region: str) -> Tenant:
    """A tenant with its domain and its own data key but no users: a restore fills it."""
    if region != settings.KASSA_REGION:
        raise WrongRegion(
            f"region {region!r} is not served here; this deployment serves {settings.KASSA_REGION!r}"
        )
    with transaction.atomic():
        tenant = Tenant(slug=slug, name=name, region=region, status=Tenant.Status.SUSPENDED)
        tenant.full_clean()
        tenant.save()
        Domain.objects.create(host=tenant_host(slug), tenant=tenant)
        with tenant_context(tenant):
            crypto.data_key_create()
    return tenant


@as_maintenance()
def backup_restore(*, backup: Backup, new_slug: str | None = None) -> RestoreResult:
    """Restore into the backup's tenant (replacing its data) or, with `new_slug`, a new tenant.

    Nothing is written before every chunk, count and checksum has been checked; the load runs in
    one transaction that commits only if the restored rows match the manifest again.
    """
    source = backup.tenant
    if backup.status != Backup.Status.DONE:
        raise LifecycleError(f"backup {backup.pk} is {backup.status}", code="backup_not_done")
    if source.region != settings.KASSA_REGION or backup.region != settings.KASSA_REGION:
        raise WrongRegion(f"backup {backup.pk} belongs to region {backup.region!r}, not this deployment's")
    storage = storage_for_region(backup.region)
    manifest = archive_verify(tenant=source, backup_id=backup.pk, chunks=storage.get(backup.object_key))
    ours = {(app, name) for app, names in migration_state().items() for name in names}
    newer = sorted(
        f"{app}.{name}"
        for app, names in manifest["migrations"].items()
        for name in names
        if (app, name) not in ours
    )
    if newer:
        raise LifecycleError(
            f"the backup has migrations this database lacks: {', '.join(newer[:5])}",
            code="backup_schema_newer",
        )
    tables = {t.name: t for t in tenant_tables(backed_up_only=True)}
    for name, entry in manifest["tables"].items():
        if name not in tables or not set(entry["columns"]) <= set(tables[name].columns):
            raise LifecycleError(
                f"table {name} of the backup does not fit this schema", code="backup_schema_mismatch"
            )
    if new_slug:
        try:
            target = tenant_shell_create(slug=new_slug, name=source.name, region=manifest["tenant"]["region"])
        except ValidationError as error:
            raise LifecycleError("; ".join(error.messages), code="invalid_slug") from None
    else:
        target = source
    replayed: list[dict] = []
    try:
        rows = _restore_load(backup, manifest, source, target, tables, storage, replayed)
    except BaseException:
        if new_slug:
            tenant_delete(tenant=target)
        raise
    erasures_replayed_record(tenant=target, replayed=replayed)
    if new_slug:
        Tenant.objects.filter(pk=target.pk).update(status=Tenant.Status.ACTIVE)
        target.refresh_from_db()
    logger.info("backup %s restored into %s: %s rows", backup.pk, target.slug, sum(rows.values()))
    return RestoreResult(tenant=target, rows=rows)


def _restore_load(backup, manifest, source, target, tables, storage, replayed: list) -> dict[str, int]:
    remap = source.pk != target.pk
    order = [t for t in tenant_tables(backed_up_only=True) if t.name in manifest["tables"]]
    stages = {t.name: f"kassa_stage_{i}" for i, t in enumerate(order)}
    with maintenance_transaction(target) as cursor:
        # 1. The backup into temporary tables (read and authenticated a second time).
        records = archive.read_records(storage.get(backup.object_key), tenant=source, backup_id=backup.pk)
        for kind, payload in records:
            if kind == archive.MANIFEST:
                break
            header = json.loads(payload)
            name, columns = header["table"], header["columns"]
            quoted = ", ".join(quote(c) for c in columns)
            cursor.execute(
                f"CREATE TEMP TABLE {stages[name]} ON COMMIT DROP AS SELECT {quoted} FROM {quote(name)} WITH NO DATA"  # noqa: S608
            )
            with cursor.copy(f"COPY {stages[name]} ({quoted}) FROM STDIN") as copy:
                for kind, payload in records:
                    if kind == archive.END:
                        break
                    copy.write(payload)
        # 2. Same tenant: its current rows go (children first; constraints are checked at commit).
        if not remap:
            for table in reversed(list(tables.values())):
                rows_delete(cursor, table.name, where="tenant_id = %s", params=[target.pk])
        # 3. Into a new tenant: new primary keys, and values encrypted with the new tenant's key.
        maps: dict[str, str] = {}
        if remap:
            for i, table in enumerate(order):
                if key_map_create(cursor, table, stage=stages[table.name], name=f"kassa_map_{i}"):
                    maps[table.name] = f"kassa_map_{i}"
                if table.encrypted:
                    stage_reencrypt(
                        cursor,
                        stage=stages[table.name],
                        table=table,
                        columns=manifest["tables"][table.name]["columns"],
                        source=source,
                        target=target,
                    )
        # 4. Insert, change-log tables last after removing what this restore's own writes logged.
        for table in order:
            columns = manifest["tables"][table.name]["columns"]
            if table.name in TRIGGER_FED_TABLES:
                rows_delete(cursor, table.name, where="tenant_id = %s", params=[target.pk])
            select, joins = insert_select(table, columns, maps, source_id=source.pk, target_id=target.pk)
            cursor.execute(
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
                f"SELECT {select} FROM {stages[table.name]} s {joins}"
            )
        # 5. Read the restored rows back as the backup holds them; commit only if they match.
        rows = {}
        for table in order:
            entry = manifest["tables"][table.name]
            digest = TableDigest(entry["columns"], table.encrypted, target)
            back = mapped_back_query(table, entry["columns"], maps, source_id=source.pk, target_id=target.pk)
            for block in copy_out(cursor, back):
                digest.update(block)
            if digest.result() != {"rows": entry["rows"], "checksum": entry["checksum"]}:
                raise LifecycleError(
                    f"table {table.name} differs from the backup after loading", code="restore_mismatch"
                )
            rows[table.name] = entry["rows"]
        # 6. The erasures the platform remembers, which the backup may predate: erased again
        # before this transaction commits, so no one ever sees the restored customer.
        replayed += erasures_replay(
            cursor=cursor, source_id=source.pk, target=target, customer_map=maps.get("inventory_customer")
        )
    return rows
