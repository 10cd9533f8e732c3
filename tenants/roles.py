"""The three database roles, and what a process checks about its own role when it starts.

- The application role (`KASSA_DB_ROLES["app"]`; web, worker, beat): works under row-level
  security everywhere, reads the few platform tables a request needs before a tenant is known,
  writes no platform table (kassa.E002 holds it to that).
- The maintenance role (privileged worker, manage.py): erasure, restore, purge, retention,
  backups, drills, onboarding and termination, still under row-level security with the tenant
  selected; it deletes audit entries only through `kassa_audit_delete()` (auditlog).
- The owner: owns the tables and runs migrations; no process holds it at run time.

None of them may be a superuser or bypass row-level security, and neither of the first two may
own a table or be (or become) the owner. In production a process refuses to start otherwise,
with one line; in development it warns once.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connections

from core.env import ConfigError

logger = logging.getLogger(__name__)

# The session's role, with what would let it step outside row-level security.
ROLE_SQL = """
SELECT r.rolname, r.rolsuper, r.rolbypassrls,
       EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid
               AND c.relnamespace = 'public'::regnamespace) AS owns_tables,
       ARRAY(SELECT o.rolname FROM pg_roles o
             WHERE o.rolname = ANY(%s) AND pg_has_role(r.oid, o.oid, 'MEMBER')) AS may_become
FROM pg_roles r WHERE r.rolname = session_user
"""

_warned: set[str] = set()


def process_role() -> str:
    """Which role this process's default connection must be: `app` or `maintenance`."""
    return "maintenance" if settings.PRIVILEGED_PROCESS else "app"


def role_problems(*, using: str = "default", kind: str | None = None) -> list[str]:
    """What is wrong with the role the `using` connection logs in as, for a role of `kind`."""
    kind = kind or process_role()
    roles = settings.KASSA_DB_ROLES
    # The roles it must not be (nor be able to become with SET ROLE).
    above = [roles["owner"]] if kind == "maintenance" else [roles["owner"], roles["maintenance"]]
    with connections[using].cursor() as cursor:
        cursor.execute(ROLE_SQL, [above])
        name, superuser, bypass, owns, may_become = cursor.fetchone()
    problems = []
    if superuser:
        problems.append("is a superuser")
    if bypass:
        problems.append("has BYPASSRLS")
    if owns:
        problems.append("owns tables")
    if name in above:
        problems.append(f"is the {'owner' if name == roles['owner'] else 'maintenance'} role")
    elif may_become:
        problems.append(f"may become {', '.join(sorted(may_become))}")
    return [f"the {kind} role {name} {problem}" for problem in problems]


def startup_check(*, using: str = "default") -> None:
    """Refuse to start (production) or warn once (development) when the process's role is unsafe."""
    kind = process_role()
    try:
        problems = role_problems(using=using, kind=kind)
    except DatabaseError:
        return  # the database is down or not migrated: readiness reports it, not this check
    finally:
        connections[using].close()
    if not problems:
        return
    line = "; ".join(problems) + " (see deploy/postgres-roles.sql)"
    if settings.PRODUCTION:
        raise ConfigError(f"refusing to start: {line}")
    if kind not in _warned:
        _warned.add(kind)
        logger.warning("unsafe database role: %s", line)


def migration_role(schema_editor, kind: str) -> str:
    """A role's quoted name for a migration's GRANT or REVOKE (from settings.KASSA_DB_ROLES).

    Grants are never skipped: a role that is the owner running the migration is refused, since a
    grant to the owner changes nothing and a revoke would strip the owner itself.
    """
    name = settings.KASSA_DB_ROLES[kind]
    owner = schema_editor.connection.settings_dict["USER"]
    if not name or name == owner:
        raise ConfigError(
            f"the {kind} role must be a role of its own, not the owner {owner!r} "
            "(DATABASE_URL, DATABASE_MAINTENANCE_URL and DATABASE_OWNER_URL name three roles)"
        )
    return schema_editor.quote_name(name)
