"""Row-level security for tenant-owned tables: the migration operation and the check."""

from django.db import connections
from django.db.migrations.operations.base import Operation

POLICY = "tenant_isolation"
# Platform tables that name a tenant but hold no tenant data: the host -> tenant map is read
# before any tenant is known.
PLATFORM_TABLES = frozenset({"tenants_domain"})


def rls_statements(table: str, *, platform_rows_visible: bool = False) -> list[str]:
    match = "tenant_id = kassa_current_tenant()"
    using, check = match, match
    if platform_rows_visible:
        # Rows with no tenant (platform staff) are readable; writes must still match exactly.
        using = f"(tenant_id IS NULL OR {match})"
        check = "tenant_id IS NOT DISTINCT FROM kassa_current_tenant()"
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"',
        f'CREATE POLICY {POLICY} ON "{table}" USING ({using}) WITH CHECK ({check})',
    ]


class EnableRowLevelSecurity(Operation):
    """Isolate a tenant-owned model's table by `tenant_id` in PostgreSQL itself."""

    reversible = True

    def __init__(self, model_name: str, platform_rows_visible: bool = False):
        self.model_name = model_name
        self.platform_rows_visible = platform_rows_visible

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table = to_state.apps.get_model(app_label, self.model_name)._meta.db_table
        for statement in rls_statements(table, platform_rows_visible=self.platform_rows_visible):
            schema_editor.execute(statement)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table = from_state.apps.get_model(app_label, self.model_name)._meta.db_table
        schema_editor.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
        schema_editor.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        schema_editor.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')

    def describe(self):
        return f"Enable row-level security on {self.model_name}"

    def deconstruct(self):
        kwargs = {"model_name": self.model_name}
        if self.platform_rows_visible:
            kwargs["platform_rows_visible"] = True
        return self.__class__.__qualname__, [], kwargs


TABLES_WITHOUT_RLS_SQL = """
SELECT c.relname
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND NOT (c.relrowsecurity AND c.relforcerowsecurity
           AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s))
ORDER BY c.relname
"""


def tables_without_rls(using: str = "default") -> list[str]:
    """Every table with a tenant_id column that lacks forced row-level security and its policy."""
    with connections[using].cursor() as cursor:
        cursor.execute(TABLES_WITHOUT_RLS_SQL, [POLICY])
        return [name for (name,) in cursor.fetchall() if name not in PLATFORM_TABLES]
