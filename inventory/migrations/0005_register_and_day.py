"""The register and the day (issue 18): discounts on sales and lines, tax per rate, refund
tenders and returns without a receipt, register shifts with cash movements and Z reports.

Z reports (`inventory_shiftreport`) are immutable, and so is a closed shift: a trigger refuses
UPDATE (of a closed shift: any) and DELETE unless the privileged purge and restore path
(`kassa.audit_purge`, owner role) is set, and the application role may only SELECT and INSERT
Z reports. Existing sales get their list totals and their tax per rate.
"""

import uuid

import django.db.models.deletion
import django.db.models.manager
from django.conf import settings
from django.db import migrations, models

import tenants.rls

IMMUTABLE_FUNCTION = """
CREATE OR REPLACE FUNCTION inventory_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('kassa.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  IF TG_TABLE_NAME = 'inventory_shift' AND TG_OP = 'UPDATE' AND OLD.status = 'open' THEN
    RETURN NEW;  -- an open shift may still close; a closed one never changes
  END IF;
  IF TG_TABLE_NAME = 'inventory_shift' AND TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'shifts are kept: DELETE on % refused', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RAISE EXCEPTION 'closed shifts and Z reports are immutable: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def immutable_forwards(apps, schema_editor):
    schema_editor.execute(IMMUTABLE_FUNCTION, params=None)
    for table in ("inventory_shiftreport", "inventory_shift"):
        schema_editor.execute(
            f"CREATE TRIGGER inventory_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION inventory_refuse_change()"
        )
    app_role = settings.DATABASES["default"]["USER"]
    owner = schema_editor.connection.settings_dict["USER"]
    if app_role and app_role != owner:
        quoted = schema_editor.quote_name(app_role)
        schema_editor.execute(f"REVOKE ALL ON inventory_shiftreport FROM {quoted}")
        schema_editor.execute(f"GRANT SELECT, INSERT ON inventory_shiftreport TO {quoted}")


def immutable_backwards(apps, schema_editor):
    for table in ("inventory_shiftreport", "inventory_shift"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS inventory_immutable ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS inventory_refuse_change()")


def existing_sales(apps, schema_editor):
    """List totals and tax per rate of the sales made before this migration, tenant by tenant."""
    from tenants.context import tenant_context

    alias = schema_editor.connection.alias
    Tenant = apps.get_model("tenants", "Tenant")
    for tenant in Tenant.objects.using(alias).all():
        with tenant_context(tenant), schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "UPDATE inventory_saleline SET list_total = line_total WHERE tenant_id = %s AND list_total = 0",
                [tenant.pk],
            )
            cursor.execute(
                """
                INSERT INTO inventory_saletax (tenant_id, sale_id, rate, gross, tax, net)
                SELECT tenant_id, sale_id, tax_rate, sum(line_total), sum(line_tax),
                       sum(line_total) - sum(line_tax)
                  FROM inventory_saleline WHERE tenant_id = %s
                 GROUP BY tenant_id, sale_id, tax_rate
                """,
                [tenant.pk],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_delta_sync"),
        ("tenants", "0004_time_zones"),
        ("auditlog", "0011_signinevent_approval"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ShiftReport",
            fields=[
                (
                    "id",
                    models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False),
                ),
                ("data", models.JSONField(help_text="the report as the API answers it")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["-created_at"],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.AlterModelOptions(
            name="saleline",
            options={"ordering": ["sale_id", "position", "sku"]},
        ),
        migrations.AddField(
            model_name="refund",
            name="approved_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="register",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="refundline",
            name="name",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="refundline",
            name="product",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="inventory.product",
            ),
        ),
        migrations.AddField(
            model_name="refundline",
            name="sku",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="refundline",
            name="tax_rate",
            field=models.DecimalField(decimal_places=2, default=0, max_digits=5),
        ),
        migrations.AddField(
            model_name="sale",
            name="approved_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="sale",
            name="basket_discount_amount",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name="sale",
            name="basket_discount_percent",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=5, null=True),
        ),
        migrations.AddField(
            model_name="sale",
            name="basket_discount_reason",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="sale",
            name="discount_total",
            field=models.DecimalField(
                decimal_places=2, default=0, help_text="every line's discount, tax included", max_digits=12
            ),
        ),
        migrations.AddField(
            model_name="sale",
            name="register",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="saleline",
            name="basket_discount",
            field=models.DecimalField(
                decimal_places=2, default=0, help_text="the basket discount's share", max_digits=12
            ),
        ),
        migrations.AddField(
            model_name="saleline",
            name="discount",
            field=models.DecimalField(
                decimal_places=2, default=0, help_text="the line's own and its basket share", max_digits=12
            ),
        ),
        migrations.AddField(
            model_name="saleline",
            name="discount_amount",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name="saleline",
            name="discount_percent",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=5, null=True),
        ),
        migrations.AddField(
            model_name="saleline",
            name="discount_reason",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="saleline",
            name="list_total",
            field=models.DecimalField(
                decimal_places=2, default=0, help_text="unit price x quantity", max_digits=12
            ),
        ),
        migrations.AddField(
            model_name="saleline",
            name="position",
            field=models.PositiveSmallIntegerField(default=0, help_text="the line's place on the receipt"),
        ),
        migrations.AlterField(
            model_name="refund",
            name="sale",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refunds",
                to="inventory.sale",
            ),
        ),
        migrations.AlterField(
            model_name="refundline",
            name="sale_line",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="inventory.saleline",
            ),
        ),
        migrations.AlterField(
            model_name="saleline",
            name="line_total",
            field=models.DecimalField(
                decimal_places=2,
                help_text="what was paid: list total - discount, tax included",
                max_digits=12,
            ),
        ),
        migrations.AlterField(
            model_name="saleline",
            name="unit_price",
            field=models.DecimalField(decimal_places=2, help_text="list price, tax included", max_digits=12),
        ),
        migrations.CreateModel(
            name="RefundPayment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "method",
                    models.CharField(
                        choices=[
                            ("cash", "Cash"),
                            ("card", "Card"),
                            ("voucher", "Voucher"),
                            ("other", "Other"),
                        ],
                        max_length=16,
                    ),
                ),
                ("amount", models.DecimalField(decimal_places=2, max_digits=12)),
                ("reference", models.CharField(blank=True, max_length=100)),
                (
                    "refund",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="payments",
                        to="inventory.refund",
                    ),
                ),
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
                "abstract": False,
                "base_manager_name": "unscoped",
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="RefundTax",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("rate", models.DecimalField(decimal_places=2, max_digits=5)),
                ("net", models.DecimalField(decimal_places=2, max_digits=12)),
                ("tax", models.DecimalField(decimal_places=2, max_digits=12)),
                ("gross", models.DecimalField(decimal_places=2, max_digits=12)),
                (
                    "refund",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="taxes",
                        to="inventory.refund",
                    ),
                ),
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
                "ordering": ["refund_id", "rate"],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="SaleTax",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("rate", models.DecimalField(decimal_places=2, max_digits=5)),
                ("net", models.DecimalField(decimal_places=2, max_digits=12)),
                ("tax", models.DecimalField(decimal_places=2, max_digits=12)),
                ("gross", models.DecimalField(decimal_places=2, max_digits=12)),
                (
                    "sale",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="taxes", to="inventory.sale"
                    ),
                ),
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
                "ordering": ["sale_id", "rate"],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="Shift",
            fields=[
                (
                    "id",
                    models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False),
                ),
                ("register", models.CharField(max_length=64)),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "Open"), ("closed", "Closed")], default="open", max_length=8
                    ),
                ),
                ("opening_float", models.DecimalField(decimal_places=2, max_digits=12)),
                ("opened_at", models.DateTimeField(auto_now_add=True)),
                ("counted_cash", models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True)),
                ("closed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "closed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "opened_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "store",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenants.store"
                    ),
                ),
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
                "ordering": ["-opened_at"],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="CashMovement",
            fields=[
                (
                    "id",
                    models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False),
                ),
                (
                    "kind",
                    models.CharField(choices=[("pay_in", "Pay In"), ("pay_out", "Pay Out")], max_length=8),
                ),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2, help_text="positive; the kind says which way", max_digits=12
                    ),
                ),
                ("reason", models.CharField(max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "actor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenants.tenant",
                    ),
                ),
                (
                    "shift",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cash_movements",
                        to="inventory.shift",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at"],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddField(
            model_name="refund",
            name="shift",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refunds",
                to="inventory.shift",
            ),
        ),
        migrations.AddField(
            model_name="sale",
            name="shift",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sales",
                to="inventory.shift",
            ),
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["tenant", "-created_at"], name="refund_tenant_created"),
        ),
        migrations.AddField(
            model_name="shiftreport",
            name="shift",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT, related_name="z_report", to="inventory.shift"
            ),
        ),
        migrations.AddField(
            model_name="shiftreport",
            name="store",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenants.store"
            ),
        ),
        migrations.AddField(
            model_name="shiftreport",
            name="tenant",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenants.tenant",
            ),
        ),
        migrations.AddIndex(
            model_name="refundtax",
            index=models.Index(fields=["tenant", "refund"], name="refundtax_tenant_refund"),
        ),
        migrations.AddIndex(
            model_name="saletax",
            index=models.Index(fields=["tenant", "sale"], name="saletax_tenant_sale"),
        ),
        migrations.AddIndex(
            model_name="shift",
            index=models.Index(fields=["tenant", "store", "-opened_at"], name="shift_tenant_store_opened"),
        ),
        migrations.AddConstraint(
            model_name="shift",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "open")),
                fields=("tenant", "store", "register"),
                name="shift_one_open_per_register",
            ),
        ),
        tenants.rls.EnableRowLevelSecurity("saletax"),
        tenants.rls.EnableRowLevelSecurity("refundtax"),
        tenants.rls.EnableRowLevelSecurity("refundpayment"),
        tenants.rls.EnableRowLevelSecurity("shift"),
        tenants.rls.EnableRowLevelSecurity("cashmovement"),
        tenants.rls.EnableRowLevelSecurity("shiftreport"),
        migrations.RunPython(immutable_forwards, immutable_backwards),
        migrations.RunPython(existing_sales, migrations.RunPython.noop),
        # Database defaults, so raw inserts (restores of older backups, bulk SQL) need not name them.
        migrations.AlterField(
            model_name="refund",
            name="register",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="refundline",
            name="name",
            field=models.CharField(blank=True, db_default="", default="", max_length=200),
        ),
        migrations.AlterField(
            model_name="refundline",
            name="sku",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="refundline",
            name="tax_rate",
            field=models.DecimalField(db_default=0, decimal_places=2, default=0, max_digits=5),
        ),
        migrations.AlterField(
            model_name="sale",
            name="basket_discount_reason",
            field=models.CharField(blank=True, db_default="", default="", max_length=200),
        ),
        migrations.AlterField(
            model_name="sale",
            name="discount_total",
            field=models.DecimalField(
                db_default=0,
                decimal_places=2,
                default=0,
                help_text="every line's discount, tax included",
                max_digits=12,
            ),
        ),
        migrations.AlterField(
            model_name="sale",
            name="register",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="saleline",
            name="basket_discount",
            field=models.DecimalField(
                db_default=0,
                decimal_places=2,
                default=0,
                help_text="the basket discount's share",
                max_digits=12,
            ),
        ),
        migrations.AlterField(
            model_name="saleline",
            name="discount",
            field=models.DecimalField(
                db_default=0,
                decimal_places=2,
                default=0,
                help_text="the line's own and its basket share",
                max_digits=12,
            ),
        ),
        migrations.AlterField(
            model_name="saleline",
            name="discount_reason",
            field=models.CharField(blank=True, db_default="", default="", max_length=200),
        ),
        migrations.AlterField(
            model_name="saleline",
            name="list_total",
            field=models.DecimalField(
                db_default=0, decimal_places=2, default=0, help_text="unit price x quantity", max_digits=12
            ),
        ),
        migrations.AlterField(
            model_name="saleline",
            name="position",
            field=models.PositiveSmallIntegerField(
                db_default=0, default=0, help_text="the line's place on the receipt"
            ),
        ),
    ]
