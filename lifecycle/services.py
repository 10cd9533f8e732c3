"""Backups, restores, restore drills, termination and purge of tenants.

Every step that reads or writes tenant rows runs as the owner role ("owner" connection) with
the tenant selected, so row-level security still applies; the append-only audit tables are
changed only through their privileged path (`kassa.audit_purge`, owner role, see auditlog).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from accounts.sessions import non_owner_credentials_revoke
from core.alerts import alert_send
from core.storage import WrongRegion, all_storages, storage_for_region, storage_for_tenant, tenant_prefix
from lifecycle import archive
from lifecycle.models import Backup, PurgeCertificate, RestoreDrill
from tenants import crypto
from tenants.catalogue import TRIGGER_FED_TABLES, Table, encrypted_columns, tenant_tables
from tenants.context import tenant_context
from tenants.models import Domain, Tenant, TenantKey
from tenants.owner import migration_state, owner_transaction, quote, uuid_literal
from tenants.selectors import tenant_host

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
BLOCK_BYTES = 256 * 1024
DELETE_BATCH = 5000
LOCK_NAMESPACE = 61  # pg_advisory_lock(namespace, hashtext(backup id))


class LifecycleError(Exception):
    """A backup, restore or purge was refused; `code` is snake_case for APIs and commands."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code


class BackupBusy(LifecycleError):
    """Another worker is running this backup now."""


# --- helpers -----------------------------------------------------------------------------


def backup_key(tenant_id, backup_id) -> str:
    return f"{tenant_prefix(tenant_id)}backups/{backup_id}.kbk"


def _temporary_key(tenant_id, backup_id, attempt: str) -> str:
    return f"{tenant_prefix(tenant_id)}tmp/{backup_id}.{attempt}.partial"


class TableDigest:
    """Row count and SHA-256 of a table's COPY text; encrypted values count by their plaintext.

    Hashing plaintext (as its SHA-256) makes a restore into another tenant, whose values are
    re-encrypted under its own key, comparable with the backup.
    """

    def __init__(self, columns: list[str], encrypted: dict[str, str], tenant: Tenant):
        self.positions = [(i, encrypted[c]) for i, c in enumerate(columns) if c in encrypted]
        self.tenant = tenant
        self.hash = hashlib.sha256()
        self.rows = 0
        self.partial = b""

    def update(self, block: bytes) -> None:
        self.rows += block.count(b"\n")
        if not self.positions:
            self.hash.update(block)
            return
        lines = (self.partial + block).split(b"\n")
        self.partial = lines.pop()
        with tenant_context(self.tenant):
            for line in lines:
                fields = line.split(b"\t")
                for position, purpose in self.positions:
                    value = fields[position]
                    if value != b"\\N":  # bytea in COPY text: \\x<hex>
                        plaintext = crypto.decrypt(bytes.fromhex(value[3:].decode()), purpose=purpose)
                        fields[position] = b"sha256:" + hashlib.sha256(plaintext).hexdigest().encode()
                self.hash.update(b"\t".join(fields) + b"\n")

    def result(self) -> dict:
        if self.partial:
            raise archive.ArchiveError("a table's rows end in the middle of a row")
        return {"rows": self.rows, "checksum": "sha256:" + self.hash.hexdigest()}


def _copy_out(cursor, query: str) -> Iterator[bytes]:
    """Stream a query's rows in COPY text format, in blocks of whole rows."""
    block = bytearray()
    with cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
        for row in copy:
            block += row
            if len(block) >= BLOCK_BYTES:
                yield bytes(block)
                block.clear()
    if block:
        yield bytes(block)


# --- backups -----------------------------------------------------------------------------


def backup_create(*, tenant: Tenant, trigger: str = Backup.Trigger.MANUAL, scheduled_for=None) -> Backup:
    """Record a backup to run (one per night for scheduled ones); the caller enqueues it."""
    if tenant.region != settings.KASSA_REGION:
        raise WrongRegion(f"tenant {tenant.slug} is not in this deployment's region")
    with tenant_context(tenant):
        if trigger == Backup.Trigger.SCHEDULED:
            backup, _ = Backup.objects.get_or_create(
                tenant=tenant,
                trigger=trigger,
                scheduled_for=scheduled_for,
                defaults={"region": tenant.region},
            )
            return backup
        return Backup.objects.create(tenant=tenant, trigger=trigger, region=tenant.region)


def backup_get(*, backup_id) -> Backup:
    """Find a backup of any tenant by id (commands and tasks only; APIs list their own tenant's)."""
    try:
        backup = Backup.objects.select_related("tenant").filter(pk=uuid.UUID(str(backup_id))).first()
    except ValueError:
        backup = None
    if backup is None:
        raise LifecycleError("backup_not_found", f"no backup {backup_id}")
    return backup


@contextmanager
def _backup_lock(backup_id):
    """Hold a session lock for the run; a killed worker's connection closes and drops it."""
    params = [LOCK_NAMESPACE, str(backup_id)]
    with connections["owner"].cursor() as cursor:
        with tenant_context(None):
            cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", params)
            if not cursor.fetchone()[0]:
                raise BackupBusy("backup_busy", "another worker is running this backup")
        try:
            yield
        finally:
            with tenant_context(None):
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", params)


def backup_run(*, tenant: Tenant, backup_id, on_progress: Callable[[int], None] | None = None) -> Backup:
    """Write the backup aside, read it back and check it, then publish it. Safe to run again."""
    with tenant_context(tenant):
        backup = Backup.objects.get(pk=backup_id, tenant=tenant)
        if backup.status == Backup.Status.DONE:
            return backup
        storage = storage_for_tenant(tenant)
        with _backup_lock(backup.pk):
            Backup.objects.filter(pk=backup.pk).update(
                status=Backup.Status.RUNNING,
                attempts=F("attempts") + 1,
                started_at=timezone.now(),
                progress=0,
                error="",
            )
            temporary = _temporary_key(tenant.pk, backup.pk, uuid.uuid4().hex[:12])
            manifest: dict = {}
            try:
                size = storage.put(
                    temporary, _backup_frames(tenant, backup, manifest, on_progress), tenant=tenant
                )
                checked = archive_verify(tenant=tenant, backup_id=backup.pk, chunks=storage.get(temporary))
                if checked != manifest:
                    raise archive.ArchiveError("the backup read back differs from what was written")
                final = backup_key(tenant.pk, backup.pk)
                storage.rename(temporary, final, tenant=tenant)
            except Exception as error:
                storage.delete(temporary)
                Backup.objects.filter(pk=backup.pk).update(
                    status=Backup.Status.FAILED, error=_safe_error(error)
                )
                raise
            # Partial files of attempts that died with their worker.
            for key in storage.list(f"{tenant_prefix(tenant.pk)}tmp/{backup.pk}."):
                storage.delete(key)
            Backup.objects.filter(pk=backup.pk).update(
                status=Backup.Status.DONE,
                progress=100,
                object_key=final,
                size_bytes=size,
                table_count=len(manifest["tables"]),
                row_count=sum(t["rows"] for t in manifest["tables"].values()),
                key_version=manifest["key_version"],
                manifest=manifest,
                finished_at=timezone.now(),
            )
            backup.refresh_from_db()
    logger.info("backup %s of %s done: %s rows", backup.pk, tenant.slug, backup.row_count)
    return backup


def _safe_error(error: Exception) -> str:
    # Our own errors name no data; a database error's text may quote row values, so only its type.
    if isinstance(error, (LifecycleError, archive.ArchiveError, WrongRegion)):
        return f"{type(error).__name__}: {error}"[:500]
    return type(error).__name__


def _backup_frames(tenant: Tenant, backup: Backup, manifest: dict, on_progress) -> Iterator[bytes]:
    writer = archive.ArchiveWriter(tenant=tenant, backup_id=backup.pk)
    tables = tenant_tables(backed_up_only=True)
    key_version = TenantKey.objects.order_by("-version").values_list("version", flat=True).first()
    pause = settings.KASSA_BACKUP_BLOCK_PAUSE_MS / 1000
    entries: dict[str, dict] = {}
    with owner_transaction(tenant, snapshot=True) as cursor:
        migrations = migration_state(cursor)
        totals = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {quote(table.name)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
            totals[table.name] = cursor.fetchone()[0]
        total, done, shown = max(sum(totals.values()), 1), 0, 0
        for table in tables:
            columns = ", ".join(quote(c) for c in table.columns)
            writer.record(archive.HEADER, archive.header_record(table.name, table.columns))
            digest = TableDigest(table.columns, table.encrypted, tenant)
            query = f"SELECT {columns} FROM {quote(table.name)} WHERE tenant_id = {uuid_literal(tenant.pk)} ORDER BY {table.order_by}"  # noqa: S608
            for block in _copy_out(cursor, query):
                digest.update(block)
                writer.record(archive.DATA, block)
                yield from writer.take()
                done += block.count(b"\n")
                percent = min(99, done * 100 // total)
                if percent >= shown + 5:
                    shown = percent
                    Backup.objects.filter(pk=backup.pk).update(progress=percent)
                    if on_progress:
                        on_progress(percent)
                if pause:
                    time.sleep(pause)
            writer.record(archive.END, b"")
            entries[table.name] = {"columns": table.columns, **digest.result()}
    manifest.update(
        {
            "format": FORMAT_VERSION,
            "backup": str(backup.pk),
            "tenant": {
                "id": str(tenant.pk),
                "slug": tenant.slug,
                "name": tenant.name,
                "region": tenant.region,
            },
            "created_at": timezone.now().isoformat(),
            "migrations": migrations,
            "cipher": archive.CIPHER,
            "compression": archive.COMPRESSION,
            "key_version": key_version,
            "tables": entries,
        }
    )
    writer.record(archive.MANIFEST, json.dumps(manifest, sort_keys=True).encode())
    writer.close()
    yield from writer.take()


def archive_verify(*, tenant: Tenant, backup_id, chunks) -> dict:
    """Decrypt and check every chunk, row count and checksum; return the authenticated manifest."""
    encrypted = encrypted_columns()
    found: dict[str, dict] = {}
    manifest = None
    digest, name, columns = None, None, None
    for kind, payload in archive.read_records(chunks, tenant=tenant, backup_id=backup_id):
        if kind == archive.HEADER:
            header = json.loads(payload)
            name, columns = header["table"], header["columns"]
            digest = TableDigest(
                columns, {c: encrypted[(name, c)] for c in columns if (name, c) in encrypted}, tenant
            )
        elif kind == archive.DATA and digest is not None:
            digest.update(payload)
        elif kind == archive.END and digest is not None and name is not None:
            found[name] = {"columns": columns, **digest.result()}
            digest = None
        elif kind == archive.MANIFEST:
            manifest = json.loads(payload)
        else:
            raise archive.ArchiveError("records out of order")
    if (
        manifest is None
        or manifest.get("backup") != str(backup_id)
        or manifest["tenant"]["id"] != str(tenant.pk)
    ):
        raise archive.ArchiveError("the manifest does not belong to this backup")
    if found != manifest["tables"]:
        bad = sorted(
            t for t in set(found) | set(manifest["tables"]) if found.get(t) != manifest["tables"].get(t)
        )
        raise archive.ArchiveError(f"row counts or checksums differ from the manifest: {', '.join(bad)}")
    return manifest


def backups_expire(*, tenant: Tenant, now=None) -> int:
    """Delete backups beyond retention: every one of the last N days, the first of each of M months."""
    now = now or timezone.now()
    with tenant_context(tenant):
        done = list(Backup.objects.filter(tenant=tenant, status=Backup.Status.DONE).order_by("created_at"))
        if not done:
            return 0
        keep = {done[-1].pk}
        daily_from = now - timedelta(days=settings.KASSA_BACKUP_KEEP_DAILY)
        months_seen = set()
        for backup in done:
            if backup.created_at >= daily_from:
                keep.add(backup.pk)
            month = (backup.created_at.year, backup.created_at.month)
            age = (now.year - month[0]) * 12 + now.month - month[1]
            if age < settings.KASSA_BACKUP_KEEP_MONTHLY and month not in months_seen:
                months_seen.add(month)
                keep.add(backup.pk)
        expired = 0
        storage = storage_for_tenant(tenant)
        for backup in done:
            if backup.pk in keep:
                continue
            storage.delete(backup.object_key)
            Backup.objects.filter(pk=backup.pk).update(status=Backup.Status.EXPIRED, object_key="")
            expired += 1
    return expired


# --- restore -----------------------------------------------------------------------------


@dataclass
class RestoreResult:
    tenant: Tenant
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return sum(self.rows.values())


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


def backup_restore(*, backup: Backup, new_slug: str | None = None) -> RestoreResult:
    """Restore into the backup's tenant (replacing its data) or, with `new_slug`, a new tenant.

    Nothing is written before every chunk, count and checksum has been checked; the load runs in
    one transaction that commits only if the restored rows match the manifest again.
    """
    source = backup.tenant
    if backup.status != Backup.Status.DONE:
        raise LifecycleError("backup_not_done", f"backup {backup.pk} is {backup.status}")
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
            "backup_schema_newer", f"the backup has migrations this database lacks: {', '.join(newer[:5])}"
        )
    tables = {t.name: t for t in tenant_tables(backed_up_only=True)}
    for name, entry in manifest["tables"].items():
        if name not in tables or not set(entry["columns"]) <= set(tables[name].columns):
            raise LifecycleError(
                "backup_schema_mismatch", f"table {name} of the backup does not fit this schema"
            )
    if new_slug:
        try:
            target = tenant_shell_create(slug=new_slug, name=source.name, region=manifest["tenant"]["region"])
        except ValidationError as error:
            raise LifecycleError("invalid_slug", "; ".join(error.messages)) from None
    else:
        target = source
    try:
        rows = _restore_load(backup, manifest, source, target, tables, storage)
    except BaseException:
        if new_slug:
            tenant_delete(tenant=target)
        raise
    if new_slug:
        Tenant.objects.filter(pk=target.pk).update(status=Tenant.Status.ACTIVE)
        target.refresh_from_db()
    logger.info("backup %s restored into %s: %s rows", backup.pk, target.slug, sum(rows.values()))
    return RestoreResult(tenant=target, rows=rows)


def _restore_load(backup, manifest, source, target, tables, storage) -> dict[str, int]:
    remap = source.pk != target.pk
    order = [t for t in tenant_tables(backed_up_only=True) if t.name in manifest["tables"]]
    stages = {t.name: f"kassa_stage_{i}" for i, t in enumerate(order)}
    with owner_transaction(target, privileged=True) as cursor:
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
                cursor.execute(f"DELETE FROM {quote(table.name)} WHERE tenant_id = %s", [target.pk])  # noqa: S608
        # 3. Into a new tenant: new primary keys, and values encrypted with the new tenant's key.
        maps: dict[str, str] = {}
        if remap:
            for i, table in enumerate(order):
                key = table.single_key
                new = _new_key_sql(table)
                if key and key != "tenant_id" and new:
                    maps[table.name] = f"kassa_map_{i}"
                    cursor.execute(
                        f"CREATE TEMP TABLE kassa_map_{i} (old {table.types[key]} PRIMARY KEY, new {table.types[key]} NOT NULL) ON COMMIT DROP"
                    )
                    cursor.execute(
                        f"INSERT INTO kassa_map_{i} SELECT {quote(key)}, {new} FROM {stages[table.name]}"  # noqa: S608
                    )
                if table.encrypted:
                    _reencrypt(
                        cursor,
                        stages[table.name],
                        table,
                        manifest["tables"][table.name]["columns"],
                        source,
                        target,
                    )
        # 4. Insert, change-log tables last after removing what this restore's own writes logged.
        for table in order:
            columns = manifest["tables"][table.name]["columns"]
            if table.name in TRIGGER_FED_TABLES:
                cursor.execute(f"DELETE FROM {quote(table.name)} WHERE tenant_id = %s", [target.pk])  # noqa: S608
            select, joins = _insert_select(table, columns, maps, source, target)
            cursor.execute(
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
                f"SELECT {select} FROM {stages[table.name]} s {joins}"
            )
        # 5. Read the restored rows back as the backup holds them; commit only if they match.
        rows = {}
        for table in order:
            entry = manifest["tables"][table.name]
            digest = TableDigest(entry["columns"], table.encrypted, target)
            for block in _copy_out(cursor, _mapped_back_query(table, entry["columns"], maps, source, target)):
                digest.update(block)
            if digest.result() != {"rows": entry["rows"], "checksum": entry["checksum"]}:
                raise LifecycleError(
                    "restore_mismatch", f"table {table.name} differs from the backup after loading"
                )
            rows[table.name] = entry["rows"]
    return rows


def _new_key_sql(table: Table) -> str | None:
    if table.single_key is None:
        return None
    key_type = table.types[table.single_key]
    if key_type == "uuid":
        return "gen_random_uuid()"
    if table.sequence:
        return f"nextval('{table.sequence}')"
    return None  # a natural key: kept as it is


def _insert_select(table: Table, columns, maps, source, target) -> tuple[str, str]:
    expressions, joins = [], []
    for column in columns:
        fk = next((f for f in table.foreign_keys if f.column == column), None)
        if column == "tenant_id" or (fk and fk.table == "tenants_tenant"):
            expressions.append(
                uuid_literal(target.pk)
                if column == "tenant_id"
                else f"CASE WHEN s.{quote(column)} = {uuid_literal(source.pk)} THEN {uuid_literal(target.pk)} ELSE s.{quote(column)} END"
            )
        elif column == table.single_key and table.name in maps:
            joins.append(f"JOIN {maps[table.name]} k ON k.old = s.{quote(column)}")
            expressions.append("k.new")
        elif fk and fk.table in maps:
            alias = f"f{len(joins)}"
            joins.append(f"LEFT JOIN {maps[fk.table]} {alias} ON {alias}.old = s.{quote(column)}")
            expressions.append(f"COALESCE({alias}.new, s.{quote(column)})")
        else:
            expressions.append(f"s.{quote(column)}")
    return ", ".join(expressions), " ".join(joins)


def _mapped_back_query(table: Table, columns, maps, source, target) -> str:
    """The restored rows with the source's ids, in the backup's order."""
    expressions, joins = {}, []
    for column in columns:
        fk = next((f for f in table.foreign_keys if f.column == column), None)
        if column == "tenant_id":
            expressions[column] = uuid_literal(source.pk)
        elif fk and fk.table == "tenants_tenant":
            expressions[column] = (
                f"CASE WHEN t.{quote(column)} = {uuid_literal(target.pk)} THEN {uuid_literal(source.pk)} ELSE t.{quote(column)} END"
            )
        elif column == table.single_key and table.name in maps:
            joins.append(f"JOIN {maps[table.name]} k ON k.new = t.{quote(column)}")
            expressions[column] = "k.old"
        elif fk and fk.table in maps:
            alias = f"f{len(joins)}"
            joins.append(f"LEFT JOIN {maps[fk.table]} {alias} ON {alias}.new = t.{quote(column)}")
            expressions[column] = f"COALESCE({alias}.old, t.{quote(column)})"
        else:
            expressions[column] = f"t.{quote(column)}"
    order = ", ".join(expressions.get(c, f"t.{quote(c)}") for c in (table.primary_key or columns))
    select = ", ".join(expressions[c] for c in columns)
    return (
        f"SELECT {select} FROM {quote(table.name)} t {' '.join(joins)} "  # noqa: S608
        f"WHERE t.tenant_id = {uuid_literal(target.pk)} ORDER BY {order}"
    )


def _reencrypt(cursor, stage: str, table: Table, columns: list[str], source: Tenant, target: Tenant) -> None:
    key = table.single_key
    encrypted = [c for c in columns if c in table.encrypted]
    if not key or not encrypted:
        raise LifecycleError(
            "restore_unsupported", f"table {table.name} has encrypted values but no single key"
        )
    cursor.execute(f"CREATE INDEX ON {stage} ({quote(key)})")
    cursor.execute(
        f"DECLARE kassa_reencrypt NO SCROLL CURSOR FOR SELECT {quote(key)}, {', '.join(quote(c) for c in encrypted)} FROM {stage}"  # noqa: S608
    )
    assignments = ", ".join(f"{quote(c)} = %s" for c in encrypted)
    while True:
        cursor.execute("FETCH 500 FROM kassa_reencrypt")
        rows = cursor.fetchall()
        if not rows:
            break
        updates = []
        for pk, *values in rows:
            new_values: list[bytes | None] = []
            for column, value in zip(encrypted, values, strict=True):
                if value is None:
                    new_values.append(None)
                    continue
                with tenant_context(source):
                    plaintext = crypto.decrypt(bytes(value), purpose=table.encrypted[column])
                with tenant_context(target):
                    new_values.append(crypto.encrypt(plaintext, purpose=table.encrypted[column]))
            updates.append([*new_values, pk])
        cursor.executemany(f"UPDATE {stage} SET {assignments} WHERE {quote(key)} = %s", updates)  # noqa: S608
    cursor.execute("CLOSE kassa_reencrypt")


# --- deleting a tenant's rows: purge and scratch tenants ---------------------------------


def tenant_rows_delete(
    *,
    tenant: Tenant,
    batch_size: int = DELETE_BATCH,
    keep: frozenset[str] = frozenset(),
    on_batch: Callable[[str, int, object], None] | None = None,
) -> dict[str, int]:
    """Delete every row of the tenant in every tenant-owned table, in batches; return counts.

    Referring tables go before the tables they refer to, the change log last (the deletes write
    to it). `on_batch(table, count, cursor)` runs inside each batch's transaction.
    """
    tables = [t for t in tenant_tables() if t.name not in keep]
    fed = [t for t in tables if t.name in TRIGGER_FED_TABLES]
    ordered = [t for t in reversed(tables) if t.name not in TRIGGER_FED_TABLES] + fed
    counts: dict[str, int] = {}
    for _ in range(5):  # again while the last pass found rows (a change-log entry, a late sign-in)
        found = 0
        for table in ordered:
            while True:
                try:
                    with owner_transaction(tenant, privileged=True) as cursor:
                        cursor.execute(
                            f"DELETE FROM {quote(table.name)} WHERE ctid = ANY(ARRAY("  # noqa: S608
                            f"SELECT ctid FROM {quote(table.name)} WHERE tenant_id = %s LIMIT %s))",
                            [tenant.pk, batch_size],
                        )
                        deleted = cursor.rowcount
                        if deleted and on_batch:
                            on_batch(table.name, deleted, cursor)
                except IntegrityError:
                    # Rows of a reference cycle: the whole rest in one transaction.
                    deleted = _rows_delete_at_once(tenant, ordered, counts, on_batch)
                    found += deleted
                    break
                counts[table.name] = counts.get(table.name, 0) + deleted
                found += deleted
                if deleted < batch_size:
                    break
        if not found:
            break
    return counts


def _rows_delete_at_once(tenant, tables, counts, on_batch) -> int:
    total = 0
    with owner_transaction(tenant, privileged=True) as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {quote(table.name)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
            if cursor.rowcount:
                counts[table.name] = counts.get(table.name, 0) + cursor.rowcount
                total += cursor.rowcount
                if on_batch:
                    on_batch(table.name, cursor.rowcount, cursor)
    return total


def tenant_delete(*, tenant: Tenant) -> None:
    """Remove a scratch tenant entirely: rows, keys, domain and the tenant itself."""
    tenant_rows_delete(tenant=tenant)
    with tenant_context(tenant):
        crypto.data_keys_destroy()
    tenant_rows_delete(tenant=tenant)  # the change-log entries of the key's deletion
    Domain.objects.filter(tenant=tenant).delete()
    Tenant.objects.filter(pk=tenant.pk).delete()


# --- restore drills ----------------------------------------------------------------------


def restore_drill_run(*, tenant: Tenant) -> RestoreDrill | None:
    """Restore the latest backup into a scratch tenant, compare, delete it, record the result."""
    backup = Backup.objects.filter(tenant=tenant, status=Backup.Status.DONE).order_by("-created_at").first()
    if backup is None:
        return None
    started = time.monotonic()
    scratch_slug = f"drill-{uuid.uuid4().hex[:16]}"
    status, detail, rows = RestoreDrill.Status.PASSED, "", {}
    try:
        rows = backup_restore(backup=backup, new_slug=scratch_slug).rows
        expected = {name: entry["rows"] for name, entry in backup.manifest["tables"].items()}
        if rows != expected:
            raise LifecycleError("drill_mismatch", "restored row counts differ from the manifest")
    except Exception as error:
        status, detail = RestoreDrill.Status.FAILED, _safe_error(error)
    finally:
        scratch = Tenant.objects.filter(slug=scratch_slug).first()
        if scratch is not None:
            tenant_delete(tenant=scratch)
    with tenant_context(tenant):
        drill = RestoreDrill.objects.create(
            tenant=tenant,
            backup=backup,
            status=status,
            table_count=len(rows),
            row_count=sum(rows.values()),
            seconds=round(time.monotonic() - started, 3),
            detail=detail,
        )
    if status == RestoreDrill.Status.FAILED:
        # Log, mail to ADMINS and the webhook (core.alerts), per tenant.
        alert_send(
            "restore_drill_failed",
            tenant=tenant.slug,
            detail=f"The restore drill of tenant {tenant.slug} ({tenant.pk}) failed for backup {backup.pk}: {detail}",
        )
    return drill


# --- termination and purge ---------------------------------------------------------------


def purge_due_at(tenant: Tenant):
    if tenant.subscription_ends_at is None:
        return None
    return tenant.subscription_ends_at + timedelta(days=settings.KASSA_TERMINATION_GRACE_DAYS)


def tenant_terminate(*, tenant: Tenant, ends_at=None) -> Tenant:
    """End the subscription: only owners may sign in (to export) until the purge."""
    if tenant.status == Tenant.Status.PURGED:
        raise LifecycleError("tenant_purged", f"tenant {tenant.slug} is already purged")
    now = timezone.now()
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(
            status=Tenant.Status.TERMINATED,
            subscription_ends_at=ends_at or tenant.subscription_ends_at or now,
        )
        with tenant_context(tenant):
            non_owner_credentials_revoke()
    tenant.refresh_from_db()
    logger.info("tenant %s terminated; purge due %s", tenant.slug, purge_due_at(tenant))
    return tenant


def tenants_purge_due(*, now=None) -> list[Tenant]:
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.KASSA_TERMINATION_GRACE_DAYS)
    return list(Tenant.objects.filter(status=Tenant.Status.TERMINATED, subscription_ends_at__lte=cutoff))


def tenant_purge(
    *, tenant: Tenant, requested_by: str, batch_size: int = DELETE_BATCH, on_batch=None
) -> PurgeCertificate:
    """Destroy every row, backup and export object and data key of a terminated tenant.

    Resumable: each step can run again, and the certificate's counts grow in the same
    transactions as the deletes, so an interrupted purge finishes and counts right when rerun.
    """
    if tenant.status not in (Tenant.Status.TERMINATED, Tenant.Status.PURGED):
        raise LifecycleError("tenant_not_terminated", f"tenant {tenant.slug} must be terminated first")
    certificate, _ = PurgeCertificate.objects.get_or_create(
        subject_tenant=tenant.pk,
        defaults={"subject_slug": tenant.slug, "region": tenant.region, "requested_by": requested_by},
    )
    if certificate.status == PurgeCertificate.Status.COMPLETE:
        return certificate
    PurgeCertificate.objects.filter(pk=certificate.pk).update(runs=F("runs") + 1)
    # 1. Backup and export objects in every region's storage.
    for storage in all_storages():
        for key in list(storage.list(tenant_prefix(tenant.pk))):
            storage.delete(key)
            with connections["default"].cursor() as cursor, tenant_context(None):
                cursor.execute(
                    "UPDATE lifecycle_purgecertificate SET objects_deleted = objects_deleted || "
                    "jsonb_build_object(%s::text, COALESCE((objects_deleted->>%s)::bigint, 0) + 1) WHERE id = %s",
                    [storage.region, storage.region, certificate.pk],
                )

    # The lifecycle's records of the tenant: they point at objects that no longer exist.
    for model in (RestoreDrill, Backup):
        deleted, _ = model.objects.filter(tenant=tenant).delete()
        if deleted:
            certificate.refresh_from_db(fields=["rows_deleted"])
            table = model._meta.db_table
            certificate.rows_deleted[table] = certificate.rows_deleted.get(table, 0) + deleted
            certificate.save(update_fields=["rows_deleted"])

    def count(table: str, deleted: int, cursor) -> None:
        cursor.execute(
            "UPDATE lifecycle_purgecertificate SET rows_deleted = rows_deleted || "
            "jsonb_build_object(%s::text, COALESCE((rows_deleted->>%s)::bigint, 0) + %s) WHERE id = %s",
            [table, table, deleted, certificate.pk],
        )
        if on_batch:
            on_batch(table, deleted, cursor)

    # 2. Rows, in batches; the data keys after them, then what deleting the keys logged.
    tenant_rows_delete(
        tenant=tenant, batch_size=batch_size, keep=frozenset({"tenants_tenantkey"}), on_batch=count
    )
    with tenant_context(tenant):
        destroyed = crypto.data_keys_destroy()
    PurgeCertificate.objects.filter(pk=certificate.pk).update(
        data_keys_destroyed=F("data_keys_destroyed") + destroyed
    )
    tenant_rows_delete(tenant=tenant, batch_size=batch_size, on_batch=count)
    Domain.objects.filter(tenant=tenant).delete()
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.PURGED)
    PurgeCertificate.objects.filter(pk=certificate.pk).update(
        status=PurgeCertificate.Status.COMPLETE, completed_at=timezone.now()
    )
    certificate.refresh_from_db()
    logger.info("tenant %s purged by %s (certificate %s)", tenant.slug, requested_by, certificate.pk)
    return certificate
