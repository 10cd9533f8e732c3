"""Objects every later migration relies on: the tenant function and the app role's grants."""

from django.conf import settings
from django.db import migrations


def grant_to_app_role(apps, schema_editor):
    app_role = settings.DATABASES["default"]["USER"]
    owner = schema_editor.connection.settings_dict["USER"]
    if not app_role or app_role == owner:
        return
    quoted = schema_editor.quote_name(app_role)
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
        f"GRANT SELECT ON django_migrations TO {quoted}",
    ):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    run_before = [("contenttypes", "0001_initial")]

    operations = [
        migrations.RunSQL(
            """
            CREATE OR REPLACE FUNCTION kassa_current_tenant() RETURNS uuid
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT nullif(current_setting('kassa.tenant_id', true), '')::uuid $$
            """,
            "DROP FUNCTION IF EXISTS kassa_current_tenant()",
        ),
        migrations.RunPython(grant_to_app_role, migrations.RunPython.noop),
    ]
