"""Catalogue, stock ledger, customers and sales of a chain. Every model is tenant-owned.

The stock ledger (`StockMovement`) is the single source of truth: a `StockLevel` row is a
cached sum of its movements, changed only by `inventory.services` in the same transaction
as the movement that explains it.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from uuid6 import uuid7

from tenants.fields import EncryptedTextField
from tenants.models import Store, TenantOwnedModel

MONEY = {"max_digits": 12, "decimal_places": 2}


def UpdatedAtField():
    """When the row last changed: set by the database (trigger `kassa_sync_stamp`, migration 0003),
    so bulk and raw writes move it too. Delta lists page on (updated_at, id) (inventory.sync)."""
    return models.DateTimeField(db_default=Now(), editable=False)


def ExternalIdField():
    """The integrator's own key for the row (an ERP id); unique per tenant when set."""
    return models.CharField(max_length=128, blank=True, default="")


def external_id_unique(model: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["tenant", "external_id"],
        condition=~models.Q(external_id=""),
        name=f"{model}_tenant_external_id",
    )


def updated_index(model: str) -> models.Index:
    return models.Index(fields=["tenant", "updated_at", "id"], name=f"{model}_tenant_updated")


class Category(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="category_tenant_name")]
        indexes = [updated_index("category")]

    def __str__(self):
        return self.name


class Supplier(TenantOwnedModel):
    """A business that delivers stock; its contact data is a company's, not a person's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    notes = models.TextField(blank=True)
    external_id = ExternalIdField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="supplier_tenant_name"),
            external_id_unique("supplier"),
        ]
        indexes = [updated_index("supplier")]

    def __str__(self):
        return self.name


class Product(TenantOwnedModel):
    """Something a store sells. `price` includes tax at `tax_rate` percent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sku = models.CharField("SKU", max_length=64)
    barcode = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    price = models.DecimalField(**MONEY)
    cost = models.DecimalField(**MONEY, default=0)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0, help_text="percent")
    active = models.BooleanField(default=True)
    external_id = ExternalIdField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sku"], name="product_tenant_sku"),
            external_id_unique("product"),
        ]
        indexes = [
            models.Index(fields=["tenant", "barcode"], name="product_tenant_barcode"),
            models.Index(fields=["tenant", "name"], name="product_tenant_name"),
            updated_index("product"),
        ]

    def __str__(self):
        return f"{self.sku} {self.name}"


class Customer(TenantOwnedModel):
    """A shopper. Contact data is encrypted with the tenant's key; lookups go through keyed hashes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = EncryptedTextField(blank=True, null=True)
    email = EncryptedTextField(blank=True, null=True)
    phone = EncryptedTextField(blank=True, null=True)
    email_hash = models.CharField(max_length=64, blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    notes = models.TextField(blank=True)
    external_id = ExternalIdField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = UpdatedAtField()
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [external_id_unique("customer")]
        indexes = [
            models.Index(fields=["tenant", "email_hash"], name="customer_tenant_email_hash"),
            models.Index(fields=["tenant", "phone_hash"], name="customer_tenant_phone_hash"),
            updated_index("customer"),
        ]

    def __str__(self):
        return self.name or f"customer {str(self.pk)[:8]}"


class StockLevel(TenantOwnedModel):
    """How many of a product a store holds: the sum of the product's movements in the store."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    quantity = models.IntegerField(default=0)
    reorder_point = models.IntegerField(default=0)
    # Units to order when the stock position falls to the reorder point (0: the reorder point's
    # worth); see backoffice.selectors.reorder_suggestions.
    reorder_quantity = models.PositiveIntegerField(default=0)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["store_id", "product_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "store", "product"], name="stocklevel_tenant_store_product"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "product"], name="stocklevel_tenant_product"),
            updated_index("stocklevel"),
        ]

    def __str__(self):
        return f"{self.product_id} in {self.store_id}: {self.quantity}"


class StockMovement(TenantOwnedModel):
    """One change of stock, signed (+ in, - out). Never updated or deleted."""

    class Kind(models.TextChoices):
        RECEIVE = "receive"
        SALE = "sale"
        REFUND = "refund"
        ADJUST = "adjust"
        TRANSFER_OUT = "transfer_out"
        TRANSFER_IN = "transfer_in"
        COUNT = "count"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    quantity = models.IntegerField(help_text="signed change: positive in, negative out")
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=200, blank=True)
    unit_cost = models.DecimalField(**MONEY, null=True, blank=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sale = models.ForeignKey("Sale", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    refund = models.ForeignKey("Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    transfer_id = models.UUIDField(null=True, blank=True, help_text="pairs a transfer's out and in")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="movement_tenant_created"),
            models.Index(fields=["tenant", "store", "product"], name="movement_tenant_store_product"),
        ]

    def __str__(self):
        return f"{self.kind} {self.quantity:+d}"


class ReceiptCounter(TenantOwnedModel):
    """The last receipt number of a store; its row lock serialises numbering, nothing else."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "store"], name="receiptcounter_tenant_store")
        ]


class Sale(TenantOwnedModel):
    class Status(models.TextChoices):
        COMPLETED = "completed"
        PARTIALLY_REFUNDED = "partially_refunded"
        REFUNDED = "refunded"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    receipt_number = models.PositiveBigIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="sales"
    )
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY, help_text="net of tax")
    tax_total = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    paid = models.DecimalField(**MONEY)
    change_due = models.DecimalField(**MONEY, default=0)
    refunded_total = models.DecimalField(**MONEY, default=0)
    # The register it was rung up on, and the shift (cash drawer) it belongs to.
    register = models.CharField(max_length=64, blank=True, default="", db_default="")
    shift = models.ForeignKey("Shift", on_delete=models.PROTECT, null=True, blank=True, related_name="sales")
    discount_total = models.DecimalField(
        **MONEY, default=0, db_default=0, help_text="every line's discount, tax included"
    )
    # The basket discount as asked (percent or amount, never both) and why.
    basket_discount_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    basket_discount_amount = models.DecimalField(**MONEY, null=True, blank=True)
    basket_discount_reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    # The manager whose credentials allowed a discount above the cashier's ceiling.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "store", "receipt_number"], name="sale_tenant_store_receipt"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="sale_tenant_created"),
            updated_index("sale"),
        ]

    def __str__(self):
        return f"receipt {self.receipt_number}"


class SaleLine(TenantOwnedModel):
    """A product sold, with its price and tax as they were at the time of sale."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY, help_text="list price, tax included")
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2)
    list_total = models.DecimalField(**MONEY, default=0, db_default=0, help_text="unit price x quantity")
    discount = models.DecimalField(
        **MONEY, default=0, db_default=0, help_text="the line's own and its basket share"
    )
    basket_discount = models.DecimalField(
        **MONEY, default=0, db_default=0, help_text="the basket discount's share"
    )
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    discount_amount = models.DecimalField(**MONEY, null=True, blank=True)
    discount_reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    line_total = models.DecimalField(**MONEY, help_text="what was paid: list total - discount, tax included")
    line_tax = models.DecimalField(**MONEY)
    refunded_quantity = models.PositiveIntegerField(default=0)
    position = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="the line's place on the receipt"
    )

    class Meta:
        ordering = ["sale_id", "position", "sku"]

    def __str__(self):
        return f"{self.quantity} x {self.sku}"


class Payment(TenantOwnedModel):
    class Method(models.TextChoices):
        CASH = "cash"
        CARD = "card"
        VOUCHER = "voucher"
        OTHER = "other"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="payments")
    method = models.CharField(max_length=16, choices=Method.choices)
    amount = models.DecimalField(**MONEY)
    reference = models.CharField(max_length=100, blank=True)

    def __str__(self):
        return f"{self.method} {self.amount}"


class SaleTax(TenantOwnedModel):
    """A sale's tax at one rate: computed from the gross of that rate's lines (see sales.py)."""

    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="taxes")
    rate = models.DecimalField(max_digits=5, decimal_places=2)
    net = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    gross = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["sale_id", "rate"]
        indexes = [models.Index(fields=["tenant", "sale"], name="saletax_tenant_sale")]


class Refund(TenantOwnedModel):
    """Money and goods back: of a sale (`sale` set) or a return without a receipt (`sale` empty)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    restock = models.BooleanField(default=True)
    total = models.DecimalField(**MONEY)
    tax_total = models.DecimalField(**MONEY)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    register = models.CharField(max_length=64, blank=True, default="", db_default="")
    shift = models.ForeignKey(
        "Shift", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    # The manager whose credentials allowed a refund the actor could not make alone.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="refund_tenant_created"),
            updated_index("refund"),
        ]

    def __str__(self):
        return f"refund {self.total} of {self.sale_id or 'a return'}"


class RefundLine(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    sale_line = models.ForeignKey(SaleLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sku = models.CharField(max_length=64, blank=True, default="", db_default="")
    name = models.CharField(max_length=200, blank=True, default="", db_default="")
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0, db_default=0)
    quantity = models.PositiveIntegerField()
    amount = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)


class RefundTax(TenantOwnedModel):
    """A refund's tax at one rate, as SaleTax for a sale."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="taxes")
    rate = models.DecimalField(max_digits=5, decimal_places=2)
    net = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    gross = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["refund_id", "rate"]
        indexes = [models.Index(fields=["tenant", "refund"], name="refundtax_tenant_refund")]


class RefundPayment(TenantOwnedModel):
    """How a refund's money went back: one row per tender."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="payments")
    method = models.CharField(max_length=16, choices=Payment.Method.choices)
    amount = models.DecimalField(**MONEY)
    reference = models.CharField(max_length=100, blank=True)

    def __str__(self):
        return f"{self.method} {self.amount} back"


class Shift(TenantOwnedModel):
    """A register's cash drawer from opening (with a float) to closing (with counted cash).

    At most one open shift per store and register. A closed shift never changes again (a
    trigger refuses it), and its Z report (ShiftReport) is the stored, immutable snapshot.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    register = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opening_float = models.DecimalField(**MONEY)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    counted_cash = models.DecimalField(**MONEY, null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "store", "register"],
                condition=models.Q(status="open"),
                name="shift_one_open_per_register",
            )
        ]
        indexes = [models.Index(fields=["tenant", "store", "-opened_at"], name="shift_tenant_store_opened")]

    def __str__(self):
        return f"shift {self.register} {self.status}"


class CashMovement(TenantOwnedModel):
    """Cash put into (pay-in) or taken out of (pay-out) a shift's drawer, not for a sale."""

    class Kind(models.TextChoices):
        PAY_IN = "pay_in"
        PAY_OUT = "pay_out"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    shift = models.ForeignKey(Shift, on_delete=models.PROTECT, related_name="cash_movements")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.DecimalField(**MONEY, help_text="positive; the kind says which way")
    reason = models.CharField(max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class ShiftReport(TenantOwnedModel):
    """A Z report: the closing figures of a shift, stored once and never changed (a trigger
    refuses UPDATE, and DELETE outside the privileged purge and restore path)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    shift = models.OneToOneField(Shift, on_delete=models.PROTECT, related_name="z_report")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(help_text="the report as the API answers it")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Z report of {self.shift_id}"


class ProductImport(TenantOwnedModel):
    """A CSV product import run by a worker; the admin's job page and the API show its progress.

    The uploaded file is kept in the row, encrypted with the tenant's data key, only until the
    job ends (done or failed): then it is cleared. A purge deletes the row with the tenant's data.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    MAX_ERRORS = 500

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=200, blank=True)
    data = EncryptedTextField(null=True, blank=True, help_text="the uploaded CSV, until the job ends")
    total_rows = models.PositiveIntegerField(default=0)
    # A dry run changes nothing and says what would change (`changes`); it keeps its file until
    # applied (then a new job runs it for real) or superseded by the user's next import.
    dry_run = models.BooleanField(default=False)
    create_categories = models.BooleanField(default=False, help_text="create unknown categories")
    locale = models.CharField(max_length=8, blank=True, help_text="how the file writes numbers (fi, en)")
    applied_at = models.DateTimeField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text=f"[{{row, message}}], the first {MAX_ERRORS} refused rows"
    )
    changes = models.JSONField(
        default=list,
        blank=True,
        help_text=f"[{{row, sku, action, fields}}], the first {MAX_ERRORS} changed rows",
    )
    categories_created = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="why the whole job failed")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="productimport_tenant_created")]

    def __str__(self):
        return f"product import {str(self.pk)[:8]} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
