from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from tenants.rls import tables_without_rls


@register(Tags.database)
def tenant_tables_have_row_level_security(app_configs, databases=None, **kwargs):
    """Fail when a table holding tenant data is not isolated by row-level security."""
    if not databases or "default" not in databases:
        return []
    try:
        missing = tables_without_rls("default")
    except DatabaseError:
        return []  # not migrated yet: nothing to check
    return [
        Error(
            f"table {table} has a tenant_id column but no forced row-level security policy",
            hint="Add tenants.rls.EnableRowLevelSecurity to the migration that creates it.",
            id="kassa.E001",
        )
        for table in missing
    ]
