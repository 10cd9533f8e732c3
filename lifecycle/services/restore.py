"""Restore a backup into its own tenant (replacing its data) or into a new tenant."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.sessions import tenant_cache_purge
from auditlog.deletion import DELETABLE_TABLES, rows_delete
from auditlog.models import PlatformEvent
from auditlog.services import platform_event_record
from core.storage import StorageError, WrongRegion, storage_for_region, storage_from_url
from exports.customers import erasures_replay, erasures_replayed_record
from inventory.sync import KEEP_STAMPS_SQL
from lifecycle import archive
from lifecycle.errors import LifecycleError
from lifecycle.models import Backup
from lifecycle.services.backups import TableDigest, archive_verify, copy_out, keys_key
from lifecycle.services.purge import tenant_delete
from lifecycle.services.remap import insert_select, key_map_create, mapped_back_query, stage_reencrypt
from tenants import crypto
from tenants.catalogue import TRIGGER_FED_TABLES, tenant_tables
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance, maintenance_transaction, migration_state, quote
from tenants.models import Domain, Tenant, TenantKey
from tenants.selectors import tenant_host

logger = logging.getLogger(__name__)
# Append-only history: a restore into the same tenant appends to it, never replaces it.
AUDIT_TABLES = DELETABLE_TABLES


@dataclass
class RestoreResult:
    tenant: Tenant
    rows: dict[str, int] = field(default_factory=dict)
    effects: dict[str, int] = field(default_factory=dict)  # same tenant: what was revoked, forced

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


def _schema_check(manifest: dict) -> None:
    """Refuse a backup made by a newer schema, or with a table or column this one lacks."""
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


@as_maintenance()
def backup_restore(*, backup: Backup, new_slug: str | None = None, actor: str = "system") -> RestoreResult:
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
    _schema_check(manifest)
    tables = {t.name: t for t in tenant_tables(backed_up_only=True)}
    if new_slug:
        try:
            target = tenant_shell_create(slug=new_slug, name=source.name, region=manifest["tenant"]["region"])
        except ValidationError as error:
            raise LifecycleError("; ".join(error.messages), code="invalid_slug") from None
    else:
        target = source
    replayed: list[dict] = []
    effects: dict[str, int] = {}
    try:
        rows = _restore_load(backup, manifest, source, target, tables, storage, replayed, effects)
    except BaseException:
        if new_slug:
            tenant_delete(tenant=target)
        raise
    erasures_replayed_record(tenant=target, replayed=replayed)
    if not new_slug:
        # Sessions in Redis: their rows are revoked; the sessions themselves go too.
        effects["redis_sessions"] = tenant_cache_purge(tenant_id=target.pk, slug=target.slug)["sessions"]
        platform_event_record(
            kind=PlatformEvent.Kind.TENANT_RESTORED,
            tenant=target,
            actor=actor,
            detail={"backup": str(backup.pk), "rows": sum(rows.values()), **effects},
        )
    if new_slug:
        Tenant.objects.filter(pk=target.pk).update(status=Tenant.Status.ACTIVE)
        target.refresh_from_db()
    logger.info("backup %s restored into %s: %s rows", backup.pk, target.slug, sum(rows.values()))
    return RestoreResult(tenant=target, rows=rows, effects=effects)


def _restore_load(
    backup, manifest, source, target, tables, storage, replayed: list, effects: dict, fresh: bool = False
) -> dict[str, int]:
    """`fresh`: the same tenant, rebuilt where it no longer exists (restore from storage alone):
    nothing live to keep, so everything loads as the backup holds it."""
    remap = source.pk != target.pk
    live = not remap and not fresh
    order = [t for t in tenant_tables(backed_up_only=True) if t.name in manifest["tables"]]
    stages = {t.name: f"kassa_stage_{i}" for i, t in enumerate(order)}
    with maintenance_transaction(target) as cursor:
        cursor.execute(KEEP_STAMPS_SQL)  # rows keep their updated_at (inventory.sync)
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
        # 2. Same tenant: its current rows go (children first; constraints are checked at commit),
        # but never its audit entries and seals: history is appended to, not rewritten. The
        # users as they are now are kept aside, to compare with what the backup brings back.
        if live:
            cursor.execute(
                "CREATE TEMP TABLE kassa_live_users ON COMMIT DROP AS "
                "SELECT id, password, is_active FROM accounts_user WHERE tenant_id = %s",
                [target.pk],
            )
            for table in reversed(list(tables.values())):
                if table.name not in AUDIT_TABLES:
                    rows_delete(cursor, table.name, where="tenant_id = %s", params=[target.pk])
            cursor.execute("SELECT max(sealed_through) FROM auditlog_seal WHERE tenant_id = %s", [target.pk])
            sealed_through = cursor.fetchone()[0]
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
        # 4. Insert, change-log tables last after removing what this restore's own writes logged
        # (into a new tenant). Into the same tenant, audit tables get only the backup's entries
        # the live ones lack that no live seal covers (newer than its last seal): a sealed
        # entry missing now was purged by retention, or deleted, which verification must keep
        # reporting; seals are never restored over live ones.
        appended: dict[str, int] = {}
        for table in order:
            columns = manifest["tables"][table.name]["columns"]
            select, joins = insert_select(table, columns, maps, source_id=source.pk, target_id=target.pk)
            where = ""
            if live and table.name in AUDIT_TABLES:
                if table.name in ("auditlog_seal", "auditlog_sealedentry"):
                    continue
                where = f" WHERE NOT EXISTS (SELECT 1 FROM {quote(table.name)} t WHERE t.id = s.id)"  # noqa: S608
                if sealed_through is not None:
                    where += f" AND s.created_at > '{sealed_through.isoformat()}'::timestamptz"
            elif table.name in TRIGGER_FED_TABLES:  # what this load's own writes logged
                rows_delete(cursor, table.name, where="tenant_id = %s", params=[target.pk])
            cursor.execute(
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
                f"SELECT {select} FROM {stages[table.name]} s {joins}{where}"
            )
            if where:
                appended[table.name] = cursor.rowcount
        # 5. Read the restored rows back as the backup holds them; commit only if they match.
        rows = {}
        for table in order:
            entry = manifest["tables"][table.name]
            if live and table.name in AUDIT_TABLES:
                rows[table.name] = appended.get(table.name, 0)  # live history kept, not compared
                continue
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
        if live:
            _same_tenant_after_load(cursor, backup=backup, tenant=target, effects=effects)
    return rows


def _same_tenant_after_load(cursor, *, backup, tenant, effects: dict) -> None:
    """What the restored credentials may no longer do, and the tenant's own record of it.

    Every token and browser session restored is revoked (a token revoked since is refused again,
    one issued since no longer exists); a user whose password changed since the backup must
    change it at the next sign-in (the backup brings the old one back), and one deactivated
    since stays deactivated. An access-log entry tells the chain (GET /api/v1/audit/access/).
    """
    cursor.execute(
        "UPDATE accounts_apitoken SET revoked_at = now() WHERE tenant_id = %s AND revoked_at IS NULL",
        [tenant.pk],
    )
    effects["tokens_revoked"] = cursor.rowcount
    cursor.execute(
        "UPDATE accounts_usersession SET revoked_at = now() WHERE tenant_id = %s AND revoked_at IS NULL",
        [tenant.pk],
    )
    effects["sessions_revoked"] = cursor.rowcount
    cursor.execute(
        "UPDATE accounts_user u SET must_change_password = true FROM kassa_live_users l "
        "WHERE u.id = l.id AND u.tenant_id = %s AND u.password <> l.password",
        [tenant.pk],
    )
    effects["password_change_forced"] = cursor.rowcount
    cursor.execute(
        "UPDATE accounts_user u SET is_active = false FROM kassa_live_users l "
        "WHERE u.id = l.id AND u.tenant_id = %s AND u.is_active AND NOT l.is_active",
        [tenant.pk],
    )
    effects["kept_deactivated"] = cursor.rowcount
    cursor.execute(
        "INSERT INTO auditlog_access (created_at, tenant_id, request_id, host, method, path, query, status, "
        "duration_ms, user_agent) VALUES (now(), %s, gen_random_uuid(), 'maintenance', 'RESTORE', %s, '', 200, 0, "
        "'manage.py restore_tenant')",
        [tenant.pk, f"/api/v1/backups/{backup.pk}/"],
    )


# --- disaster recovery: a tenant rebuilt from its backup in storage alone ----------------


def _split_storage_url(url: str) -> tuple[str, str]:
    """(storage URL, object key) of a backup's URL: the key starts at `tenants/`."""
    at = url.find("/tenants/")
    if at < 0 or not url.endswith(".kbk"):
        raise LifecycleError(
            "give the backup object's URL, e.g. s3://bucket/tenants/<tenant>/backups/<backup>.kbk",
            code="bad_backup_url",
        )
    return url[:at] or "/", url[at + 1 :]


@as_maintenance()
def backup_restore_from_storage(*, url: str, actor: str = "system") -> RestoreResult:
    """Rebuild a tenant that this database does not have from its backup object and the master key.

    The object beside the backup (`<backup>.keys`) names the tenant and carries its data keys
    wrapped by the master key or KMS; they are put back as the tenant's keys (same versions),
    the backup is decrypted and checked with them, its encrypted manifest must carry the same
    wrapped keys, and the tenant is loaded under its own ids, status active. Nothing is left
    behind when anything fails.
    """
    base, key = _split_storage_url(url)
    storage = storage_from_url(base, region=settings.KASSA_REGION)
    try:
        document = json.loads(b"".join(storage.get(keys_key(key))))
        tenant_id = uuid.UUID(document["tenant"])
        backup_id = uuid.UUID(document["backup"])
        wrapped = document["data_keys"]
    except (StorageError, ValueError, KeyError, TypeError) as error:
        raise LifecycleError(
            f"the backup's key document cannot be read: {type(error).__name__}", code="backup_keys"
        ) from None
    if document.get("region") != settings.KASSA_REGION:
        raise WrongRegion(f"the backup belongs to region {document.get('region')!r}, not this deployment's")
    if Tenant.objects.filter(pk=tenant_id).exists():
        raise LifecycleError(
            f"tenant {tenant_id} exists here: restore its backup by id instead", code="tenant_exists"
        )
    shell = Tenant.objects.create(
        id=tenant_id,
        slug=f"restoring-{tenant_id.hex[:12]}",
        name="restoring",
        region=settings.KASSA_REGION,
        status=Tenant.Status.SUSPENDED,
    )
    try:
        with tenant_context(shell):
            for entry in wrapped:
                TenantKey.objects.create(
                    version=entry["version"],
                    kek_id=entry["kek_id"],
                    wrapped_key=base64.b64decode(entry["wrapped_key"]),
                )
                try:  # the master key (or KMS) of this deployment unwraps it
                    crypto.unwrap_data_key(entry["kek_id"], base64.b64decode(entry["wrapped_key"]))
                except crypto.DecryptionError as error:
                    raise LifecycleError(str(error), code="data_key_unwrap") from None
        manifest = archive_verify(tenant=shell, backup_id=backup_id, chunks=storage.get(key))
        if manifest.get("data_keys") != wrapped:
            raise LifecycleError(
                "the key document differs from the backup's own manifest", code="backup_keys"
            )
        _schema_check(manifest)
        Tenant.objects.filter(pk=shell.pk).update(
            slug=manifest["tenant"]["slug"], name=manifest["tenant"]["name"]
        )
        shell.refresh_from_db()
        Domain.objects.create(host=tenant_host(shell.slug), tenant=shell)
        backup = Backup.objects.create(
            id=backup_id,
            tenant=shell,
            status=Backup.Status.DONE,
            region=shell.region,
            object_key=key,
            manifest=manifest,
            table_count=len(manifest["tables"]),
            row_count=sum(t["rows"] for t in manifest["tables"].values()),
            key_version=manifest["key_version"],
        )
        tables = {t.name: t for t in tenant_tables(backed_up_only=True)}
        replayed: list[dict] = []
        rows = _restore_load(backup, manifest, shell, shell, tables, storage, replayed, {}, fresh=True)
    except BaseException:
        tenant_delete(tenant=shell)
        raise
    erasures_replayed_record(tenant=shell, replayed=replayed)
    Tenant.objects.filter(pk=shell.pk).update(status=Tenant.Status.ACTIVE)
    shell.refresh_from_db()
    platform_event_record(
        kind=PlatformEvent.Kind.TENANT_RESTORED,
        tenant=shell,
        actor=actor,
        detail={"backup": str(backup_id), "rows": sum(rows.values()), "from_storage": True},
    )
    logger.info(
        "tenant %s rebuilt from storage (backup %s): %s rows", shell.slug, backup_id, sum(rows.values())
    )
    return RestoreResult(tenant=shell, rows=rows)
