"""The one catalogue of permissions, and the built-in roles every tenant gets."""

VIEW_PRODUCTS = "view_products"
MANAGE_PRODUCTS = "manage_products"
RECEIVE_STOCK = "receive_stock"
ADJUST_STOCK = "adjust_stock"
TRANSFER_STOCK = "transfer_stock"
SELL = "sell"
REFUND = "refund"
VIEW_SALES = "view_sales"
VIEW_CUSTOMERS = "view_customers"
CREATE_CUSTOMERS = "create_customers"
MANAGE_CUSTOMERS = "manage_customers"
ERASE_CUSTOMERS = "erase_customers"
MANAGE_USERS = "manage_users"
MANAGE_ROLES = "manage_roles"
VIEW_STORE_LOGS = "view_store_logs"
VIEW_CHAIN_LOGS = "view_chain_logs"
EXPORT = "export"
MANAGE_SETTINGS = "manage_settings"
GRANT_SUPPORT = "grant_support"

CATALOGUE: dict[str, str] = {
    VIEW_PRODUCTS: "View products, categories, suppliers and stock levels",
    MANAGE_PRODUCTS: "Create and change products, categories and suppliers",
    RECEIVE_STOCK: "Receive stock into a store",
    ADJUST_STOCK: "Adjust and count stock",
    TRANSFER_STOCK: "Transfer stock between stores",
    SELL: "Ring up sales",
    REFUND: "Refund sales",
    VIEW_SALES: "View sales and the stock ledger",
    VIEW_CUSTOMERS: "View customers",
    CREATE_CUSTOMERS: "Create customers (at the till)",
    MANAGE_CUSTOMERS: "Change and export customers",
    ERASE_CUSTOMERS: "Erase a customer's personal data (with MFA and a reason)",
    MANAGE_USERS: "Create, change, deactivate and unlock users",
    MANAGE_ROLES: "Create and change roles and their policies",
    VIEW_STORE_LOGS: "View the access and change logs of one's stores",
    VIEW_CHAIN_LOGS: "View the access and change logs of the whole chain",
    EXPORT: "Export the chain's data (each kind also needs its view permission, chain-wide)",
    MANAGE_SETTINGS: "Change the chain's settings (stores, retention)",
    GRANT_SUPPORT: "Grant and revoke support access for platform staff",
}

PERMISSION_CHOICES = sorted(CATALOGUE)

# Permissions that can be limited to stores; the others are chain-wide by nature.
STORE_SCOPED = frozenset(
    {
        VIEW_PRODUCTS,
        RECEIVE_STOCK,
        ADJUST_STOCK,
        TRANSFER_STOCK,
        SELL,
        REFUND,
        VIEW_SALES,
        VIEW_STORE_LOGS,
        MANAGE_USERS,
    }
)

# Read-only permissions a support grant may carry by default.
SUPPORT_DEFAULT = [VIEW_PRODUCTS, VIEW_SALES, VIEW_STORE_LOGS, VIEW_CHAIN_LOGS]
# All a support grant may ever carry: the reads a diagnosis needs, and fixing catalogue data (a
# broken import, a wrong price) — the one write a support case commonly needs. Never who may
# sign in or what they hold (manage_users, manage_roles, grant_support: staff could renew their
# own access), the chain's data in bulk (export), settings, money or customers' records.
SUPPORT_ALLOWED = frozenset({*SUPPORT_DEFAULT, VIEW_CUSTOMERS, MANAGE_PRODUCTS})

OWNER, STORE_MANAGER, CASHIER, INTEGRATOR, AUDITOR = (
    "owner",
    "store_manager",
    "cashier",
    "integrator",
    "auditor",
)

BUILTIN_ROLES: dict[str, dict] = {
    OWNER: {
        "name": "Owner",
        "permissions": sorted(CATALOGUE),
        "mfa_required": True,
        "lockout_threshold": 5,
    },
    STORE_MANAGER: {
        "name": "Store manager",
        "permissions": [
            VIEW_PRODUCTS,
            MANAGE_PRODUCTS,
            RECEIVE_STOCK,
            ADJUST_STOCK,
            TRANSFER_STOCK,
            SELL,
            REFUND,
            VIEW_SALES,
            VIEW_CUSTOMERS,
            CREATE_CUSTOMERS,
            MANAGE_CUSTOMERS,
            MANAGE_USERS,
            VIEW_STORE_LOGS,
        ],
        "mfa_required": True,
    },
    CASHIER: {
        "name": "Cashier",
        "permissions": [VIEW_PRODUCTS, SELL, VIEW_CUSTOMERS, CREATE_CUSTOMERS],
        "mfa_required": False,
    },
    INTEGRATOR: {
        "name": "Integrator",
        "permissions": [
            VIEW_PRODUCTS,
            MANAGE_PRODUCTS,
            RECEIVE_STOCK,
            ADJUST_STOCK,
            TRANSFER_STOCK,
            VIEW_SALES,
            VIEW_CUSTOMERS,
        ],
        "mfa_required": False,
    },
    AUDITOR: {
        "name": "Auditor",
        "permissions": [VIEW_PRODUCTS, VIEW_SALES, VIEW_STORE_LOGS, VIEW_CHAIN_LOGS, EXPORT],
        "mfa_required": True,
    },
}
