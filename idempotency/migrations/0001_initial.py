"""Idempotency records moved here from the project package; the table keeps its name.

A database made before the move already has the table (from migration kassa.0002): the
state is created either way, the table only where it is missing.
"""

import uuid

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models

import tenants.rls


def create_table_unless_present(apps, schema_editor):
    model = apps.get_model("idempotency", "IdempotencyRecord")
    if model._meta.db_table not in schema_editor.connection.introspection.table_names():
        schema_editor.create_model(model)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tenants", "0002_store"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IdempotencyRecord",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        ("key", models.CharField(max_length=255)),
                        (
                            "fingerprint",
                            models.CharField(
                                help_text="SHA-256 of user, method, path and body", max_length=64
                            ),
                        ),
                        ("response_status", models.PositiveSmallIntegerField()),
                        ("response_body", models.JSONField(null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("expires_at", models.DateTimeField()),
                        (
                            "tenant",
                            models.ForeignKey(
                                editable=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "kassa_idempotencyrecord",
                        "indexes": [
                            models.Index(fields=["tenant", "expires_at"], name="idempotency_tenant_expires")
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("tenant", "key"), name="idempotency_tenant_key")
                        ],
                    },
                    managers=[
                        ("objects", django.db.models.manager.Manager()),
                        ("unscoped", django.db.models.manager.Manager()),
                    ],
                ),
            ],
        ),
        migrations.RunPython(create_table_unless_present, migrations.RunPython.noop),
        tenants.rls.EnableRowLevelSecurity("idempotencyrecord"),
    ]
