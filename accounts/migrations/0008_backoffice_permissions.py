"""The back office's permissions (manage_purchasing, count_stock) for the built-in roles of every
existing tenant, as `roles_seed` gives them to new tenants. Custom roles are left as they are."""

from django.db import migrations

ADDED = {
    "owner": ["manage_purchasing", "count_stock"],
    "store_manager": ["manage_purchasing", "count_stock"],
    "cashier": ["count_stock"],
    "integrator": ["manage_purchasing"],
}


def _tenants(apps, alias):
    return apps.get_model("tenants", "Tenant").objects.using(alias).all()


def forwards(apps, schema_editor):
    from tenants.context import tenant_context

    role_model = apps.get_model("accounts", "Role")
    for tenant in _tenants(apps, schema_editor.connection.alias):
        with tenant_context(tenant):  # row-level security binds the owner too
            for role in role_model.objects.using(schema_editor.connection.alias).filter(
                tenant_id=tenant.pk, builtin__in=ADDED
            ):
                missing = [p for p in ADDED[role.builtin] if p not in role.permissions]
                if missing:
                    role.permissions = sorted({*role.permissions, *missing})
                    role.save(update_fields=["permissions"])


def backwards(apps, schema_editor):
    from tenants.context import tenant_context

    role_model = apps.get_model("accounts", "Role")
    for tenant in _tenants(apps, schema_editor.connection.alias):
        with tenant_context(tenant):
            for role in role_model.objects.using(schema_editor.connection.alias).filter(
                tenant_id=tenant.pk, builtin__in=ADDED
            ):
                role.permissions = [p for p in role.permissions if p not in ADDED[role.builtin]]
                role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_owner_erases_customers"),
        ("tenants", "0002_store"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
