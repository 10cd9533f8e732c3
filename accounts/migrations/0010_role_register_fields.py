"""The register's role fields (discount ceiling, home page) and the new permissions of issue 18
(give_discount, refund_without_receipt, manage_shifts) in every existing tenant's built-in roles.

Roles are tenant-owned under row-level security, so the data step selects each tenant in turn.
The values are written here, not read from accounts.permissions, so the migration keeps meaning
what it meant when the catalogue changes later.
"""

import django.core.validators
from django.db import migrations, models

ADDED = {
    "owner": (["give_discount", "refund_without_receipt", "manage_shifts"], 100, "account"),
    "store_manager": (["give_discount", "refund_without_receipt", "manage_shifts"], 100, "account"),
    "cashier": (["give_discount", "manage_shifts"], 10, "register"),
}


def forwards(apps, schema_editor):
    from tenants.context import tenant_context

    Tenant = apps.get_model("tenants", "Tenant")
    Role = apps.get_model("accounts", "Role")
    for tenant in Tenant.objects.using(schema_editor.connection.alias).all():
        with tenant_context(tenant):
            for builtin, (permissions, ceiling, home) in ADDED.items():
                for role in Role.objects.using(schema_editor.connection.alias).filter(
                    tenant_id=tenant.pk, builtin=builtin
                ):
                    role.permissions = sorted(set(role.permissions) | set(permissions))
                    role.max_discount_percent = ceiling
                    role.home = home
                    role.save(update_fields=["permissions", "max_discount_percent", "home"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_manage_webhooks"),
        ("tenants", "0004_time_zones"),
    ]

    operations = [
        migrations.AddField(
            model_name="role",
            name="home",
            field=models.CharField(
                choices=[
                    ("admin", "admin"),
                    ("audit", "audit"),
                    ("register", "register"),
                    ("account", "account"),
                ],
                default="account",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="role",
            name="max_discount_percent",
            field=models.DecimalField(
                decimal_places=2,
                default=0,
                max_digits=5,
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(100),
                ],
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        # Database defaults, so raw inserts (restores of older backups, bulk SQL) need not name them.
        migrations.AlterField(
            model_name="role",
            name="home",
            field=models.CharField(
                choices=[
                    ("admin", "admin"),
                    ("audit", "audit"),
                    ("register", "register"),
                    ("account", "account"),
                ],
                db_default="account",
                default="account",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="role",
            name="max_discount_percent",
            field=models.DecimalField(
                db_default=0,
                decimal_places=2,
                default=0,
                max_digits=5,
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(100),
                ],
            ),
        ),
    ]
