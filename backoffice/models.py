"""The back office of a store: purchase orders and their deliveries, stocktakes, transfers in transit.

Stock itself moves only through the inventory ledger (`inventory.services.stock`); these
records say why it moved and keep what the ledger does not: what was ordered, what was
expected when a count began, what left one store and has not yet reached the other.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from inventory.models import MONEY, Category, Product, StockMovement, Supplier
from tenants.models import Store, TenantOwnedModel


class DocumentCounter(TenantOwnedModel):
    """The last number given to a kind of document (purchase order, stocktake, transfer) in a chain."""

    kind = models.CharField(max_length=16)
    last_number = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind"], name="documentcounter_tenant_kind")]


class PurchaseOrder(TenantOwnedModel):
    """Goods ordered from a supplier for one store."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ORDERED = "ordered", _("Ordered")
        PARTIALLY_RECEIVED = "partially_received", _("Partially received")
        RECEIVED = "received", _("Received")
        CANCELLED = "cancelled", _("Cancelled")

    OPEN = (Status.DRAFT, Status.ORDERED, Status.PARTIALLY_RECEIVED)
    RECEIVABLE = (Status.ORDERED, Status.PARTIALLY_RECEIVED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.PositiveBigIntegerField(_("number"), editable=False)
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, related_name="+", verbose_name=_("supplier")
    )
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+", verbose_name=_("store"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(_("notes"), blank=True)
    expected_on = models.DateField(_("expected on"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    ordered_at = models.DateTimeField(_("ordered"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, help_text=_("received or cancelled"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="purchaseorder_tenant_number"),
        ]
        indexes = [
            models.Index(fields=["tenant", "store", "status"], name="purchaseorder_store_status"),
            models.Index(fields=["tenant", "supplier"], name="purchaseorder_tenant_supplier"),
        ]

    def __str__(self):
        return _("PO %(number)s") % {"number": self.number}

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def total(self) -> Decimal:
        """Quantity x unit cost of every line (read from `lines`, so prefetch them for a list)."""
        return sum((line.quantity * line.unit_cost for line in self.lines.all()), Decimal("0.00"))


class PurchaseOrderLine(TenantOwnedModel):
    """A product on a purchase order: how many were ordered, at what cost, how many have arrived."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    received = models.PositiveIntegerField(_("received"), default=0)
    unit_cost = models.DecimalField(_("unit cost"), **MONEY)

    class Meta:
        ordering = ["order_id", "product__sku"]
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "order", "product"], name="purchaseorderline_product"),
            models.CheckConstraint(
                condition=Q(received__lte=F("quantity")), name="purchaseorderline_received"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.product_id}"

    @property
    def outstanding(self) -> int:
        return self.quantity - self.received

    @property
    def total(self) -> Decimal:
        return self.quantity * self.unit_cost


class PurchaseOrderReceipt(TenantOwnedModel):
    """One delivery against a purchase order, as it was received."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    note = models.CharField(max_length=500, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at"]

    def __str__(self):
        return f"receipt {str(self.pk)[:8]} of {self.order_id}"


class PurchaseOrderReceiptLine(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    receipt = models.ForeignKey(PurchaseOrderReceipt, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.PositiveIntegerField()
    movement = models.OneToOneField(StockMovement, on_delete=models.PROTECT, related_name="+")


class Stocktake(TenantOwnedModel):
    """A count of a store's stock (all products or a category), with its variance report when finished.

    Starting it freezes each product's expected quantity. A count records the stock at that
    moment, so sales made after the freeze are accounted for: the difference is counted minus
    the stock when it was counted, applied to the stock as it is when the stocktake finishes.
    """

    class Status(models.TextChoices):
        COUNTING = "counting", _("Counting")
        FINISHED = "finished", _("Finished")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.PositiveBigIntegerField(_("number"), editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+", verbose_name=_("store"))
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("category"),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.COUNTING)
    note = models.CharField(_("note"), max_length=500, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The variance report's totals, kept when it finishes (the lines keep each product's).
    variance_quantity = models.IntegerField(default=0)
    variance_value = models.DecimalField(**MONEY, default=0)
    shrinkage_value = models.DecimalField(**MONEY, default=0, help_text=_("value of the units missing"))

    class Meta:
        ordering = ["-number"]
        verbose_name = _("stocktake")
        verbose_name_plural = _("stocktakes")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="stocktake_tenant_number"),
            # One count at a time per store: two would each correct the other's differences.
            models.UniqueConstraint(
                fields=["tenant", "store"],
                condition=Q(status="counting"),
                name="stocktake_one_open_per_store",
            ),
        ]

    def __str__(self):
        return _("Stocktake %(number)s") % {"number": self.number}


class StocktakeLine(TenantOwnedModel):
    """A product of a stocktake: expected at the freeze, the last count (who, when, stock then)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    stocktake = models.ForeignKey(Stocktake, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    expected = models.IntegerField(_("expected"), help_text=_("stock when the stocktake started"))
    counted = models.PositiveIntegerField(_("counted"), null=True, blank=True)
    stock_at_count = models.IntegerField(null=True, blank=True, help_text=_("stock when it was last counted"))
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counted_at = models.DateTimeField(null=True, blank=True)
    # Kept when the stocktake finishes: the variance report's line.
    difference = models.IntegerField(null=True, blank=True)
    unit_cost = models.DecimalField(**MONEY, null=True, blank=True)
    movement = models.OneToOneField(
        StockMovement, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["stocktake_id", "product__sku"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "stocktake", "product"], name="stocktakeline_product"),
        ]

    def __str__(self):
        return f"{self.product_id}: {self.counted} / {self.expected}"

    @property
    def value(self) -> Decimal | None:
        """The difference at cost, once the stocktake has finished."""
        if self.difference is None or self.unit_cost is None:
            return None
        return (self.difference * self.unit_cost).quantize(Decimal("0.01")) + 0  # (+ 0: never -0.00)


class StocktakeCount(TenantOwnedModel):
    """Every count entered, in order: the line shows the last; this keeps who counted what before."""

    id = models.BigAutoField(primary_key=True)
    line = models.ForeignKey(StocktakeLine, on_delete=models.CASCADE, related_name="counts")
    counted = models.PositiveIntegerField()
    stock_at_count = models.IntegerField()
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Transfer(TenantOwnedModel):
    """Stock sent from one store to another: in transit until the destination receives it."""

    class Status(models.TextChoices):
        IN_TRANSIT = "in_transit", _("In transit")
        RECEIVED = "received", _("Received")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.PositiveBigIntegerField(_("number"), editable=False)
    from_store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+", verbose_name=_("from"))
    to_store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+", verbose_name=_("to"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IN_TRANSIT)
    note = models.CharField(_("note"), max_length=500, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(_("received"), null=True, blank=True)
    discrepancy_note = models.CharField(_("discrepancy note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="transfer_tenant_number"),
            models.CheckConstraint(condition=~Q(from_store=F("to_store")), name="transfer_two_stores"),
        ]
        indexes = [
            models.Index(fields=["tenant", "to_store", "status"], name="transfer_to_status"),
            models.Index(fields=["tenant", "from_store", "status"], name="transfer_from_status"),
        ]

    def __str__(self):
        return _("Transfer %(number)s") % {"number": self.number}


class TransferLine(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    quantity = models.PositiveIntegerField(_("sent"))
    received = models.PositiveIntegerField(_("arrived"), null=True, blank=True)

    class Meta:
        ordering = ["transfer_id", "product__sku"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "transfer", "product"], name="transferline_product"),
            models.CheckConstraint(condition=Q(received__lte=F("quantity")), name="transferline_received"),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.product_id}"
