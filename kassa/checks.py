"""kassa.E002: the application role holds nothing on platform tables beyond what requests need.

A table without forced row-level security (a platform table: tenants, hosts, the lifecycle's
records, Django's own) is open to every tenant's requests, so the application role may only read
the ones a request must read, and write none but the ones named below, only as named. TRUNCATE, which row-level security does not stop, it holds on nothing. New tables
get SELECT, INSERT, UPDATE, DELETE by default (tenants 0001) for tenant tables' sake: a new
platform table fails this check until its migration narrows the grant and it is listed here.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError, connections

from tenants.rls import POLICY

# Platform tables a request reads before (or besides) knowing its tenant.
APP_PLATFORM_READS = frozenset(
    {
        "tenants_tenant",  # the tenant of a host, its status (every request)
        "tenants_domain",  # host -> tenant (every request)
        "lifecycle_backup",  # the chain's backups (selectors filter by tenant)
        "lifecycle_restoredrill",  # the chain's restore drills (likewise)
        "django_content_type",  # the admin
        "django_migrations",  # backup and export manifests
        "django_admin_log",  # the admin index's recent actions (empty: Kassa keeps no admin history)
    }
)
# Platform tables the application role still writes, with what it may do there and why.
APP_PLATFORM_WRITES = {
    "auditlog_platformevent": ({"INSERT"}, "support access and other platform events, appended only"),
    "kassa_scheduleclaim": (
        {"INSERT", "UPDATE", "DELETE"},
        "beat's schedule slots (kassa.beat): claimed, released and pruned by the beat, no tenant data",
    ),
    "accounts_platformtotpdevice": (
        {"INSERT", "UPDATE", "DELETE"},
        "platform staff's authenticators: enrolled and used at sign-in, no tenant to isolate them by",
    ),
}

PRIVILEGES_SQL = """
SELECT c.relname,
       has_table_privilege(%(role)s, c.oid, 'SELECT'),
       ARRAY(SELECT p FROM unnest(ARRAY['INSERT', 'UPDATE', 'DELETE']) AS p
             WHERE has_table_privilege(%(role)s, c.oid, p)),
       has_table_privilege(%(role)s, c.oid, 'TRUNCATE'),
       c.relrowsecurity AND c.relforcerowsecurity
         AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %(policy)s)
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""


def app_role_problems(using: str = "default") -> list[str]:
    role = settings.KASSA_DB_ROLES["app"]
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return [f"the application role {role} does not exist"]
        cursor.execute(PRIVILEGES_SQL, {"role": role, "policy": POLICY})
        rows = cursor.fetchall()
    problems = []
    for table, select, writes, truncate, isolated in rows:
        if truncate:
            problems.append(f"the application role may TRUNCATE {table}")
        if isolated:
            continue
        allowed = APP_PLATFORM_WRITES.get(table, (set(), ""))[0]
        if set(writes) - allowed:
            problems.append(f"the application role may write platform table {table}")
        elif select and table not in APP_PLATFORM_READS and table not in APP_PLATFORM_WRITES:
            problems.append(f"the application role may read platform table {table}")
    return problems


@register(Tags.database)
def app_role_is_least_privileged(app_configs, databases=None, **kwargs):
    if not databases or "default" not in databases:
        return []
    try:
        problems = app_role_problems("default")
    except DatabaseError:
        return []  # not migrated yet: nothing to check
    return [
        Error(
            problem,
            hint="Narrow its grant in the migration that creates the table (see tenants 0003), or list "
            "the table in kassa.checks if every request must read it.",
            id="kassa.E002",
        )
        for problem in problems
    ]
