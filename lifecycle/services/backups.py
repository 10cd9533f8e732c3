"""Backups: create, run (written aside, read back, checked, then published), verify and expire.

A backup file (lifecycle.archive) holds every backed-up tenant table as COPY text, read as the
maintenance role under the tenant in one consistent snapshot, with a manifest of row counts and
checksums (`TableDigest`) that a restore and a drill check again.

Backups are records of the platform: only the maintenance role writes them (the privileged
worker, manage.py). A request asks for one with `backup_request`, which enqueues the privileged
task that records and runs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from core.alerts import alert_send
from core.storage import WrongRegion, storage_for_tenant, tenant_prefix
from lifecycle import archive
from lifecycle.errors import BackupBusy, LifecycleError
from lifecycle.models import Backup
from tenants import crypto
from tenants.catalogue import encrypted_columns, tenant_tables
from tenants.context import tenant_context
from tenants.maintenance import (
    MAINTENANCE,
    as_maintenance,
    maintenance_transaction,
    migration_state,
    quote,
    uuid_literal,
)
from tenants.models import Tenant, TenantKey

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
BLOCK_BYTES = 256 * 1024
LOCK_NAMESPACE = 61  # pg_advisory_lock(namespace, hashtext(backup id))


def backup_key(tenant_id, backup_id) -> str:
    return f"{tenant_prefix(tenant_id)}backups/{backup_id}.kbk"


def keys_key(object_key: str) -> str:
    """The object beside a backup that carries its tenant's wrapped data keys."""
    return f"{object_key}.keys"


def wrapped_data_keys() -> list[dict]:
    """The current tenant's data keys as stored: wrapped by the master key or KMS, never clear."""
    return [
        {
            "version": key.version,
            "kek_id": key.kek_id,
            "wrapped_key": base64.b64encode(bytes(key.wrapped_key)).decode(),
        }
        for key in TenantKey.objects.order_by("version")
    ]


def keys_document(tenant: Tenant, backup: Backup, manifest: dict) -> bytes:
    """What a restore from storage alone reads first: whose backup, and its wrapped data keys.

    Also in the encrypted manifest, which a restore compares with this once it decrypts.
    """
    return json.dumps(
        {
            "format": FORMAT_VERSION,
            "backup": str(backup.pk),
            "tenant": str(tenant.pk),
            "region": tenant.region,
            "data_keys": manifest["data_keys"],
        },
        sort_keys=True,
    ).encode()


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


def copy_out(cursor, query: str) -> Iterator[bytes]:
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


@as_maintenance()
def backup_create(
    *,
    tenant: Tenant,
    trigger: str = Backup.Trigger.MANUAL,
    scheduled_for=None,
    enqueue: bool = True,
) -> Backup:
    """Record a backup (one per night for scheduled ones) and run it in a worker after commit.

    `enqueue=False`: the caller runs it now (`backup_run`, as the backup_tenant command does).
    A scheduled backup already done that night is not run again.
    """
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
        else:
            backup = Backup.objects.create(tenant=tenant, trigger=trigger, region=tenant.region)
    if enqueue and backup.status != Backup.Status.DONE:
        _backup_enqueue(backup)
    return backup


def backup_request(*, tenant: Tenant) -> Backup:
    """A backup asked for by a request (API, admin): recorded and run by the privileged worker.

    The web may not write backup records, so this only enqueues (after commit) the privileged
    task with a new backup id, and answers the backup as it will be recorded: queued.
    """
    if tenant.region != settings.KASSA_REGION:
        raise WrongRegion(f"tenant {tenant.slug} is not in this deployment's region")
    backup = Backup(
        id=uuid.uuid4(),
        tenant=tenant,
        trigger=Backup.Trigger.MANUAL,
        region=tenant.region,
        created_at=timezone.now(),
    )
    _backup_enqueue(backup, record=True)
    return backup


@as_maintenance()
def backup_record(*, tenant: Tenant, backup_id) -> Backup:
    """The requested backup's record, made now if the request's task is the first to run."""
    with tenant_context(tenant):
        backup, _ = Backup.objects.get_or_create(
            pk=backup_id, tenant=tenant, defaults={"trigger": Backup.Trigger.MANUAL, "region": tenant.region}
        )
    return backup


def _backup_enqueue(backup: Backup, *, record: bool = False) -> None:
    from lifecycle.tasks import backup_run_task

    args = (str(backup.tenant_id), str(backup.pk))
    transaction.on_commit(lambda: backup_run_task.delay(*args, record=record))


def backup_get(*, backup_id) -> Backup:
    """Find a backup of any tenant by id (commands and tasks only; APIs list their own tenant's)."""
    try:
        backup = Backup.objects.select_related("tenant").filter(pk=uuid.UUID(str(backup_id))).first()
    except ValueError:
        backup = None
    if backup is None:
        raise LifecycleError(f"no backup {backup_id}", code="backup_not_found")
    return backup


@contextmanager
def _backup_lock(backup_id):
    """Hold a lock for the run; a killed worker's connection closes and drops it.

    A transaction-level lock, held by a transaction left open on a connection of its own for
    the run: a session-level lock would be lost (or kept by a stranger) behind a transaction-mode
    PgBouncer, which hands a server connection to whoever runs the next transaction.
    """
    params = connections[MAINTENANCE].get_connection_params()
    for key in ("cursor_factory", "context"):
        params.pop(key, None)
    params["prepare_threshold"] = None
    with psycopg.connect(**params) as lock_connection:
        row = lock_connection.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, str(backup_id)]
        ).fetchone()
        if row is None or not row[0]:
            raise BackupBusy()
        yield  # leaving the block commits, ending the transaction and its lock


@as_maintenance()
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
                # Beside it, in clear, the data keys wrapped by the master key (or KMS): with
                # them and the master key, the backup restores with no database at all.
                storage.put(keys_key(final), [keys_document(tenant, backup, manifest)], tenant=tenant)
                storage.rename(temporary, final, tenant=tenant)
            except Exception as error:
                # Recorded and alerted before anything else can fail (the storage may be down).
                Backup.objects.filter(pk=backup.pk).update(
                    status=Backup.Status.FAILED, error=safe_error(error)
                )
                # The operators now (log, mail, webhook); the chain's owners in the admin.
                alert_send(
                    "backup_failed",
                    tenant=tenant.slug,
                    detail=f"backup {backup.pk} of tenant {tenant.slug} ({tenant.pk}) failed "
                    f"(attempt {backup.attempts + 1}): {safe_error(error)}",
                )
                try:
                    storage.delete(temporary)
                except Exception:  # the partial file goes with the next attempt's clean-up
                    logger.exception("backup %s: the partial file could not be deleted", backup.pk)
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


def safe_error(error: Exception) -> str:
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
    with maintenance_transaction(tenant, snapshot=True) as cursor:
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
            for block in copy_out(cursor, query):
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
            "data_keys": wrapped_data_keys(),
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


@as_maintenance()
def tenant_digest(*, tenant: Tenant, tables: dict) -> dict:
    """Each table's rows and checksum as a backup computes them (`TableDigest`, over the columns a
    manifest's `tables` name, in the backup's order): read now, in one snapshot, so a drill can
    compare a rebuilt tenant with the manifest of the backup it was rebuilt from."""
    catalogue = {t.name: t for t in tenant_tables(backed_up_only=True)}
    found: dict[str, dict] = {}
    with maintenance_transaction(tenant, snapshot=True) as cursor:
        for name, entry in tables.items():
            table = catalogue.get(name)
            if table is None:
                continue  # not a table of this schema: the comparison reports it missing
            columns = entry["columns"]
            digest = TableDigest(
                columns, {c: table.encrypted[c] for c in columns if c in table.encrypted}, tenant
            )
            query = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(name)} WHERE tenant_id = {uuid_literal(tenant.pk)} ORDER BY {table.order_by}"  # noqa: S608
            for block in copy_out(cursor, query):
                digest.update(block)
            found[name] = {"columns": columns, **digest.result()}
    return found


@as_maintenance()
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
            storage.delete(keys_key(backup.object_key))
            Backup.objects.filter(pk=backup.pk).update(status=Backup.Status.EXPIRED, object_key="")
            expired += 1
    return expired
