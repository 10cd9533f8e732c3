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


@register(Tags.database)
def every_table_is_covered_by_the_purge(app_configs, databases=None, **kwargs):
    """Fail when a table may hold a tenant's data that a purge would not find."""
    if not databases or "default" not in databases:
        return []
    from tenants.catalogue import purge_coverage

    try:
        _, uncovered = purge_coverage(using="default")
    except DatabaseError:
        return []
    return [
        Error(
            f"table {table} has no tenant_id, no foreign key to a tenant's rows and is not declared",
            hint="Add tenant_id (with row-level security), a foreign key to the tenant or its users, "
            "or declare it in tenants.catalogue (PURGED_BY_COLUMN or HOLDS_NO_TENANT_DATA).",
            id="kassa.E003",
        )
        for table in uncovered
    ]
