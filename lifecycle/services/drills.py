"""Restore drills: does the latest backup restore, and match its manifest?

Nightly (`restore_drill_run`): into a scratch tenant of this database, deleted after. Weekly
(`storage_drill_run`): from the storage alone, as after losing the database, into a scratch
database that is created, migrated and dropped around it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import subprocess  # nosec B404 - manage.py of this checkout, never a shell
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import connections
from django.utils import timezone
from psycopg import sql

from core.alerts import alert_send
from core.storage import StorageError, storage_for_region, storage_urls
from lifecycle.errors import LifecycleError
from lifecycle.models import Backup, RestoreDrill
from lifecycle.services.backups import keys_key, safe_error
from lifecycle.services.purge import tenant_delete
from lifecycle.services.restore import backup_restore
from tenants import crypto
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def _recovery_keys_check(backup: Backup) -> None:
    """What a recovery from storage alone needs is there: the key document beside the backup,
    equal to the encrypted manifest's keys, each unwrapping with this deployment's master key."""
    storage = storage_for_region(backup.region)
    try:
        document = json.loads(b"".join(storage.get(keys_key(backup.object_key))))
    except (StorageError, ValueError) as error:
        raise LifecycleError(
            f"the backup's key document is missing or unreadable ({type(error).__name__})", code="drill_keys"
        ) from None
    if document.get("data_keys") != backup.manifest.get("data_keys") or not document.get("data_keys"):
        raise LifecycleError("the backup's key document differs from its manifest", code="drill_keys")
    for entry in document["data_keys"]:
        try:
            crypto.unwrap_data_key(entry["kek_id"], base64.b64decode(entry["wrapped_key"]))
        except (crypto.DecryptionError, KeyError, ValueError):
            raise LifecycleError("a data key of the backup does not unwrap here", code="drill_keys") from None


@as_maintenance()
def restore_drill_run(*, tenant: Tenant) -> RestoreDrill | None:
    """Restore the latest backup into a scratch tenant, compare, delete it, record the result."""
    backup = Backup.objects.filter(tenant=tenant, status=Backup.Status.DONE).order_by("-created_at").first()
    if backup is None:
        return None
    started = time.monotonic()
    scratch_slug = f"drill-{uuid.uuid4().hex[:16]}"
    status, detail, rows = RestoreDrill.Status.PASSED, "", {}
    try:
        _fresh_enough(backup)
        rows = backup_restore(backup=backup, new_slug=scratch_slug).rows
        expected = {name: entry["rows"] for name, entry in backup.manifest["tables"].items()}
        if rows != expected:
            raise LifecycleError("restored row counts differ from the manifest", code="drill_mismatch")
        _recovery_keys_check(backup)
    except Exception as error:
        status, detail = RestoreDrill.Status.FAILED, safe_error(error)
    finally:
        scratch = Tenant.objects.filter(slug=scratch_slug).first()
        if scratch is not None:
            tenant_delete(tenant=scratch)
    return _drill_record(
        tenant=tenant,
        backup=backup,
        kind=RestoreDrill.Kind.RESTORE,
        status=status,
        rows=rows,
        seconds=time.monotonic() - started,
        detail=detail,
    )


def _fresh_enough(backup: Backup) -> None:
    """Restoring an old backup proves nothing about last night's: refused, and so failed."""
    age = timezone.now() - (backup.finished_at or backup.created_at)
    if age > timedelta(hours=settings.KASSA_BACKUP_MAX_AGE_HOURS):
        raise LifecycleError(
            f"the latest backup is {int(age.total_seconds() // 3600)} hours old "
            f"(at most {settings.KASSA_BACKUP_MAX_AGE_HOURS})",
            code="backup_too_old",
        )


def _drill_record(*, tenant, backup, kind, status, rows: dict, seconds: float, detail: str) -> RestoreDrill:
    """Record the drill where the API (`last_drill`) and the admin dashboard read it; alert a failure."""
    with tenant_context(tenant):
        drill = RestoreDrill.objects.create(
            tenant=tenant,
            backup=backup,
            kind=kind,
            status=status,
            table_count=len(rows),
            row_count=sum(rows.values()),
            seconds=round(seconds, 3),
            detail=detail,
        )
    if status == RestoreDrill.Status.FAILED:
        # Log, mail to ADMINS and the webhook (core.alerts), per tenant.
        what = "restore drill" if kind == RestoreDrill.Kind.RESTORE else "drill from storage"
        alert_send(
            "restore_drill_failed" if kind == RestoreDrill.Kind.RESTORE else "storage_drill_failed",
            tenant=tenant.slug,
            detail=f"The {what} of tenant {tenant.slug} ({tenant.pk}) failed for backup {backup.pk}: {detail}",
        )
    return drill


# --- the weekly drill: from storage alone into a scratch database ------------------------

SCRATCH_PREFIX = "kassa_drill_"
DRILL_LOCK = (62, 1)  # pg_advisory_xact_lock(namespace, key) on the live database: one drill at a time
STORAGE_DRILL_STEPS = ("create", "migrate", "restore", "compare")
DRILL_FAILED_STATUS = 3  # drill_from_storage's exit status when a drill ran and failed (recorded, alerted)


def scratch_prefix() -> str:
    """`kassa_drill_<8 hex of the live database's name>_`: a drill drops only its own database's
    scratch databases (a test database's drill never touches `make run`'s)."""
    live = connections["owner"].settings_dict["NAME"]
    return f"{SCRATCH_PREFIX}{hashlib.sha256(live.encode()).hexdigest()[:8]}_"


def _owner_params() -> dict:
    if "owner" not in settings.DATABASES:
        raise LifecycleError(
            "the drill from storage creates and migrates a database: it needs the owner role, which "
            "only manage.py holds (manage.py drill_from_storage)",
            code="drill_needs_owner",
        )
    params = connections["owner"].get_connection_params()
    for key in ("cursor_factory", "context"):
        params.pop(key, None)
    params["prepare_threshold"] = None
    return params


@contextmanager
def _drill_lock() -> Iterator[psycopg.Connection]:
    """The owner's autocommit connection to the live database (CREATE and DROP DATABASE run in no
    transaction), while a second one holds the drill's lock in an open transaction: a killed run's
    connections close, and its lock goes with them."""
    params = _owner_params()
    with psycopg.connect(**params) as lock_connection, psycopg.connect(**params, autocommit=True) as owner:
        row = lock_connection.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", list(DRILL_LOCK)).fetchone()
        if row is None or not row[0]:
            raise LifecycleError("another drill from storage is running", code="drill_busy")
        yield owner


def scratch_databases_drop(owner: psycopg.Connection) -> list[str]:
    """Drop every scratch database of this live database: with the lock held, none is in use
    (a run killed before its own clean-up left it)."""
    pattern = scratch_prefix().replace("_", r"\_") + "%"
    names = [r[0] for r in owner.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [pattern])]
    for name in names:
        owner.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return names


def _manage(args: list[str], *, database: str) -> str:
    """Run manage.py on the scratch database (its own process: every connection of it points
    there); its stdout. A failure answers only what the command said (its CommandError line) or
    the exception's type: a traceback may quote row values."""
    env = {**os.environ, "KASSA_PROCESS": "manage", "KASSA_DB_NAME": database}
    try:
        done = subprocess.run(  # noqa: S603  # nosec B603 - fixed argv, no shell
            [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=settings.KASSA_STORAGE_DRILL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LifecycleError(
            f"manage.py {args[0]} took longer than {settings.KASSA_STORAGE_DRILL_TIMEOUT} s",
            code="drill_timeout",
        ) from None
    if done.returncode:
        raise LifecycleError(
            f"manage.py {args[0]} failed: {stderr_summary(done.stderr, done.returncode)}",
            code="drill_step_failed",
        )
    return done.stdout


def stderr_summary(stderr: str, returncode: int) -> str:
    """What a failed manage.py said, safe to record: its CommandError line, else the type of the
    exception it died of."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("CommandError: "):
            return line.removeprefix("CommandError: ")[:300]
    kind = lines[-1].split(":", 1)[0].strip() if lines else ""
    return f"exit status {returncode}" + (f" ({kind[:80]})" if kind.replace(".", "").isidentifier() else "")


def _compare(expected: dict, found: dict) -> None:
    """The scratch database's tables against the manifest the live database recorded."""
    bad = sorted(name for name in set(expected) | set(found) if expected.get(name) != found.get(name))
    if bad:
        raise LifecycleError(
            f"rows or checksums of the rebuilt tenant differ from the manifest: {', '.join(bad[:10])}",
            code="drill_mismatch",
        )


@as_maintenance()
def storage_drill_run(*, tenant: Tenant, on_step: Callable[[str], None] | None = None) -> RestoreDrill | None:
    """Rebuild the tenant's latest backup from its storage object alone into a scratch database.

    The scratch database `kassa_drill_<live>_<random>` is created by the owner role, migrated
    (`manage.py migrate`, its own process) and rebuilt into (`manage.py restore_tenant
    --from-storage URL --json`: the key document, the master key, the object; nothing of this
    database); its tables' rows and checksums, read back after the restore committed, must equal
    the manifest this database recorded when the backup was made and verified. The scratch
    database is dropped whatever happens (a killed run's, by the next run). The result is
    recorded as a drill of kind `storage`; a failure alerts. A backup older than
    KASSA_BACKUP_MAX_AGE_HOURS is refused (failed) before any database is made.
    """
    backup = Backup.objects.filter(tenant=tenant, status=Backup.Status.DONE).order_by("-created_at").first()
    if backup is None:
        return None
    step = on_step or (lambda name: None)
    started = time.monotonic()
    status, detail, rows = RestoreDrill.Status.PASSED, "", {}
    try:
        _fresh_enough(backup)
        url = f"{storage_urls()[backup.region].rstrip('/')}/{backup.object_key}"
        with _drill_lock() as owner:
            left = scratch_databases_drop(owner)
            if left:
                logger.warning("drill from storage: dropped %s left by a killed run", ", ".join(left))
            scratch = f"{scratch_prefix()}{uuid.uuid4().hex[:12]}"
            try:
                step("create")
                owner.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
                step("migrate")
                _manage(["migrate", "--no-input", "--verbosity", "0"], database=scratch)
                step("restore")
                out = _manage(["restore_tenant", "--from-storage", url, "--json"], database=scratch)
                step("compare")
                report = json.loads(out.strip().splitlines()[-1])
                if report["tenant"] != str(tenant.pk) or report["backup"] != str(backup.pk):
                    raise LifecycleError("the object rebuilt another tenant or backup", code="drill_mismatch")
                _compare(backup.manifest["tables"], report["tables"])
                rows = {name: entry["rows"] for name, entry in report["tables"].items()}
            finally:  # interrupted too (KeyboardInterrupt, SIGTERM in the command)
                owner.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
                )
    except Exception as error:
        status, detail = RestoreDrill.Status.FAILED, safe_error(error)
    return _drill_record(
        tenant=tenant,
        backup=backup,
        kind=RestoreDrill.Kind.STORAGE,
        status=status,
        rows=rows,
        seconds=time.monotonic() - started,
        detail=detail,
    )
