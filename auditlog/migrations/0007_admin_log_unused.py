"""Django's admin history is no longer written (accounts.admin_base.TenantModelAdmin): the rows it
holds have object names in plain text outside any tenant's rows. The change log has every edit."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0006_signin_outcome_pending"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [migrations.RunSQL("DELETE FROM django_admin_log", migrations.RunSQL.noop)]
