"""Stored answers are encrypted with the tenant's key: they may hold a customer's contact data."""

import json

from django.db import migrations

import tenants.fields


def encrypt_stored_answers(apps, schema_editor):
    from tenants import crypto
    from tenants.context import tenant_context
    from tenants.models import Tenant

    purpose = "idempotency.idempotencyrecord.response_body"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tenant_id FROM kassa_idempotencyrecord WHERE response_json IS NOT NULL"
        )
        tenant_ids = [row[0] for row in cursor.fetchall()]
    for tenant_id in tenant_ids:
        with tenant_context(Tenant(pk=tenant_id)), schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, response_json FROM kassa_idempotencyrecord WHERE tenant_id = %s AND response_json IS NOT NULL",
                [tenant_id],
            )
            for pk, body in cursor.fetchall():
                sealed = crypto.encrypt(json.dumps(body).encode(), purpose=purpose)
                cursor.execute(
                    "UPDATE kassa_idempotencyrecord SET response_body = %s WHERE id = %s", [sealed, pk]
                )


class Migration(migrations.Migration):
    dependencies = [("idempotency", "0001_initial")]

    operations = [
        migrations.RenameField("idempotencyrecord", "response_body", "response_json"),
        migrations.AddField(
            "idempotencyrecord",
            "response_body",
            tenants.fields.EncryptedTextField(
                null=True, purpose="idempotency.idempotencyrecord.response_body"
            ),
        ),
        migrations.RunPython(encrypt_stored_answers, migrations.RunPython.noop),
        migrations.RemoveField("idempotencyrecord", "response_json"),
    ]
