"""What an export holds: the tenant-owned tables (from the PostgreSQL catalogue), minus credentials.

A full export takes every tenant-owned table the catalogue finds (tenants.catalogue), so a
table another app adds later is exported, and its rows are counted, with no change here. Left
out are the tables that only hold credentials or the export machinery itself, and any column
named like a secret (auditlog.tracking.SECRET_COLUMNS: password, token/key/code hashes, wrapped
keys, OTP secrets). Encrypted columns are exported decrypted: the data belongs to the chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps

from accounts.permissions import VIEW_CHAIN_LOGS, VIEW_CUSTOMERS, VIEW_PRODUCTS, VIEW_SALES
from auditlog.tracking import SECRET_COLUMNS
from tenants.catalogue import Table, tenant_tables

SCHEMA_VERSION = 1

# Tables never exported, with the reason the manifest gives.
EXCLUDED_TABLES = {
    "tenants_tenantkey": "data keys never leave Kassa",
    "accounts_apitoken": "API tokens (credentials: hashes)",
    "accounts_usersession": "browser sessions (credentials: hashes)",
    "accounts_totpdevice": "MFA devices (credentials: OTP secrets)",
    "accounts_backupcode": "MFA backup codes (credentials: hashes)",
    "accounts_passwordhistory": "earlier password hashes (credentials)",
    "kassa_idempotencyrecord": "24-hour replay cache of API answers",
    "auditlog_seal": "the audit hash chain: seals the importing tenant's chain anew",
    "auditlog_sealedentry": "the audit hash chain: seals the importing tenant's chain anew",
    "exports_export": "the export jobs themselves",
    "integrations_webhookendpoint": "webhooks hold their signing secret (a credential): register them anew",
    "integrations_event": "the webhook outbox",
    "integrations_delivery": "the webhook delivery queue",
    "integrations_deliveryattempt": "the webhook delivery log",
    "axes_accessattempt": "lockout counters (minutes-long state of django-axes)",
    "axes_accessattemptexpiration": "lockout counters (minutes-long state of django-axes)",
    "exports_customererasure": "erasure jobs (the customer requests record each erasure)",
}
# Columns recomputed on import from exported values (keyed hashes under the new tenant's key).
DERIVED_COLUMNS = {
    ("inventory_customer", "email_hash"): "email",
    ("inventory_customer", "phone_hash"): "phone",
}
# Entity exports: the tables of each kind; the first is what `GET /exports/<kind>.csv` streams.
KIND_TABLES = {
    "products": ["inventory_product", "inventory_category", "inventory_supplier"],
    "stock": ["inventory_stocklevel", "inventory_stockmovement"],
    "sales": [
        "inventory_sale",
        "inventory_saleline",
        "inventory_payment",
        "inventory_refund",
        "inventory_refundline",
    ],
    "customers": ["inventory_customer"],
    "audit": ["auditlog_change", "auditlog_access", "auditlog_apicall", "auditlog_signinevent"],
}
KINDS = ["full", *KIND_TABLES]
# Besides `export`, each kind needs the permission that would let its reader see those rows,
# held chain-wide (an export is of the whole chain); a full export needs all of them.
KIND_PERMISSIONS = {
    "products": (VIEW_PRODUCTS,),
    "stock": (VIEW_PRODUCTS,),
    "sales": (VIEW_SALES,),
    "customers": (VIEW_CUSTOMERS,),
    "audit": (VIEW_CHAIN_LOGS,),
}
KIND_PERMISSIONS["full"] = tuple(sorted({p for needed in KIND_PERMISSIONS.values() for p in needed}))


@dataclass
class Entity:
    """One exported table: its exported columns, in the table's order."""

    table: Table
    columns: list[str]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def encrypted(self) -> dict[str, str]:
        return {c: p for c, p in self.table.encrypted.items() if c in self.columns}


def exported_columns(table: Table) -> list[str]:
    return [
        column
        for column in table.columns
        if column != "tenant_id"
        and column not in SECRET_COLUMNS
        and (table.name, column) not in DERIVED_COLUMNS
    ]


def entities(kind: str = "full", *, using: str = "default") -> list[Entity]:
    """The entities of an export kind, parents before the tables that refer to them."""
    wanted = None if kind == "full" else set(KIND_TABLES[kind])
    return [
        Entity(table=table, columns=exported_columns(table))
        for table in tenant_tables(using=using)
        if table.name not in EXCLUDED_TABLES and (wanted is None or table.name in wanted)
    ]


def model_for_table(name: str):
    for model in apps.get_models():
        if model._meta.db_table == name:
            return model
    return None


def column_descriptions(entity: Entity) -> list[tuple[str, str, str]]:
    """(column, database type, description) for the README."""
    model = model_for_table(entity.name)
    fields = {f.column: f for f in model._meta.concrete_fields} if model else {}
    described = []
    for column in entity.columns:
        model_field = fields.get(column)
        text = ""
        if model_field is not None:
            text = str(model_field.verbose_name)
            if model_field.help_text:
                text += f" ({model_field.help_text})"
            if model_field.is_relation and model_field.related_model is not None:
                text += f"; refers to {model_field.related_model._meta.db_table}.id"
        if column in entity.table.encrypted:
            text += "; stored encrypted, exported decrypted"
        described.append((column, entity.table.types[column], text.strip("; ")))
    return described
