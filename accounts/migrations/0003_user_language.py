from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_user_mfa_grace_until_role_roleassignment_and_more")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="language",
            field=models.CharField(blank=True, choices=[("en", "English"), ("fi", "Suomi")], max_length=8),
        ),
    ]
