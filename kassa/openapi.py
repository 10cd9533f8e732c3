"""Every operation of the API as an integrator reads it: its id, summary and description.

`postprocess` (a drf-spectacular hook) puts them into the schema in place of the views'
docstrings, which are written for the people who maintain the code. Operation ids are
`<resource>_<verb>`, so generated clients read `products_list`, `sales_refund`.
`tests/kassa/test_openapi.py` fails on an operation missing here, so a new endpoint is
documented when it is added.
"""

PAGE = "Paginated: `page` and `page_size` (50, at most 500); `count` is the total."
CURSOR = "Paginated by `cursor` (newest first): follow `next`; `page_size` 50, at most 500."
DELTA = (
    " Delta sync: with `updated_since` (or a `cursor` from a delta page) the list answers the objects "
    "changed after that time, oldest change first in `(updated_at, id)` order, without `count`; follow "
    "`next` until it is null, then ask again later with the last `updated_at` you received. Nothing "
    "committed meanwhile is skipped, and deactivated objects are included."
)
IDEMPOTENT = " Send an `Idempotency-Key` to make a retry safe."
ETAG = " The answer's `ETag` goes back in `If-Match` on a PATCH."
PATCH = " Only the fields sent change. With `If-Match`, a stale version is refused (412, nothing changes)."

OPERATIONS: dict[tuple[str, str], tuple[str, str, str]] = {
    # --- authentication and the caller
    ("POST", "/api/v1/auth/token/"): (
        "auth_token_create",
        "Sign in and get a token",
        "Exchange a username and password (and an OTP when the role requires MFA) for a bearer token. "
        "Integrations use keys instead (see `users_keys_create`). Wrong password and unknown user answer "
        "alike (401 `invalid_credentials`); a locked account answers 429 `locked_out`.",
    ),
    ("POST", "/api/v1/auth/support-token/"): (
        "auth_support_token_create",
        "Get a support token (platform staff)",
        "Platform staff exchange their credentials for a token limited to a support grant the chain gave.",
    ),
    ("POST", "/api/v1/auth/logout/"): (
        "auth_logout",
        "Revoke this token",
        "The token stops working at once.",
    ),
    ("GET", "/api/v1/me/"): (
        "me_retrieve",
        "Who am I",
        "The caller's user, tenant, roles, permissions and stores: what this token may do.",
    ),
    ("POST", "/api/v1/me/password/"): (
        "me_password_change",
        "Change my password",
        "A 400 names every rule of the role's policy the new password breaks.",
    ),
    ("GET", "/api/v1/me/access/"): (
        "me_access_list",
        "My sign-in history",
        "The caller's own sign-ins. " + PAGE,
    ),
    ("GET", "/api/v1/me/tokens/"): (
        "me_tokens_list",
        "My tokens",
        "The caller's live tokens (never the secret).",
    ),
    ("POST", "/api/v1/me/tokens/{token_id}/revoke/"): ("me_tokens_revoke", "Revoke one of my tokens", ""),
    ("POST", "/api/v1/me/mfa/totp/"): (
        "me_mfa_totp_start",
        "Start TOTP enrolment",
        "Answers the secret and an otpauth:// URI for an authenticator app; confirm with a code.",
    ),
    ("POST", "/api/v1/me/mfa/totp/confirm/"): (
        "me_mfa_totp_confirm",
        "Confirm TOTP enrolment",
        "Confirms the device with a current code; answers single-use backup codes once.",
    ),
    # --- tenant administration
    ("GET", "/api/v1/users/"): ("users_list", "List users", "The users the caller may manage. " + PAGE),
    ("POST", "/api/v1/users/"): (
        "users_create",
        "Create a user",
        "Roles and stores must be within what the caller holds." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/users/{user_id}/"): ("users_retrieve", "Read a user", ""),
    ("PATCH", "/api/v1/users/{user_id}/"): (
        "users_partial_update",
        "Change a user",
        "Only the fields sent change.",
    ),
    ("POST", "/api/v1/users/{user_id}/deactivate/"): (
        "users_deactivate",
        "Deactivate a user",
        "Ends the user's sessions and tokens.",
    ),
    ("POST", "/api/v1/users/{user_id}/unlock/"): ("users_unlock", "Unlock a locked-out user", ""),
    ("POST", "/api/v1/users/{user_id}/password/"): (
        "users_password_reset",
        "Set a user's password",
        "The user must change it at first use.",
    ),
    ("POST", "/api/v1/users/{user_id}/keys/"): (
        "users_keys_create",
        "Create an integrator key",
        "A key for a service user: scopes, an optional IP allow-list, 90 days. The secret is in this answer only.",
    ),
    ("GET", "/api/v1/roles/"): (
        "roles_list",
        "List roles",
        "Roles with their permissions and sign-in policy.",
    ),
    ("POST", "/api/v1/roles/"): (
        "roles_create",
        "Create a role",
        "Policy fields cannot go below the floors.",
    ),
    ("GET", "/api/v1/roles/{role_id}/"): ("roles_retrieve", "Read a role", ""),
    ("PATCH", "/api/v1/roles/{role_id}/"): (
        "roles_partial_update",
        "Change a role",
        "Only the fields sent change.",
    ),
    ("GET", "/api/v1/permissions/"): (
        "permissions_list",
        "The permission catalogue",
        "Every permission a role may hold.",
    ),
    ("GET", "/api/v1/support-grants/"): ("support_grants_list", "List support grants", ""),
    ("POST", "/api/v1/support-grants/"): (
        "support_grants_create",
        "Grant support access",
        "Time-limited access for a named platform staff member; every request under it is logged.",
    ),
    ("POST", "/api/v1/support-grants/{grant_id}/revoke/"): (
        "support_grants_revoke",
        "Revoke a support grant",
        "",
    ),
    # --- catalogue
    ("GET", "/api/v1/stores/"): ("stores_list", "List stores", "The stores the caller works in. " + PAGE),
    ("POST", "/api/v1/stores/"): ("stores_create", "Create a store", "Needs `manage_settings`." + IDEMPOTENT),
    ("GET", "/api/v1/stores/{id}/"): ("stores_retrieve", "Read a store", ETAG.strip()),
    ("PATCH", "/api/v1/stores/{id}/"): ("stores_partial_update", "Change a store", PATCH.strip()),
    ("GET", "/api/v1/products/"): (
        "products_list",
        "List products",
        "Filters: `sku`, `barcode`, `q` (name contains, or exact sku or barcode), `active`, `category`, "
        "`external_id`; `ordering`. " + PAGE + DELTA,
    ),
    ("POST", "/api/v1/products/"): (
        "products_create",
        "Create a product",
        "`sku`, `name`, `price` (tax included) and `tax_rate` (percent) are required; `sku` and "
        "`external_id` are unique in the chain. An unknown field is a 400." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/products/{id}/"): ("products_retrieve", "Read a product", ETAG.strip()),
    ("PATCH", "/api/v1/products/{id}/"): (
        "products_partial_update",
        "Change a product",
        "Deactivate with `active: false` (products are never deleted)." + PATCH,
    ),
    ("POST", "/api/v1/products/bulk/"): (
        "products_bulk_upsert",
        "Create or update up to 1,000 products",
        "Each row is matched by `external_id` when given and known, else by `sku`: an unknown one is "
        "created (then `name`, `price` and `tax_rate` are required), a known one gets the fields the row "
        "names. One result per row, in order: `created`, `updated`, `unchanged`, or `invalid` with `fields`. "
        "The valid rows are applied together in one transaction; an invalid row changes nothing."
        + IDEMPOTENT,
    ),
    ("GET", "/api/v1/categories/"): ("categories_list", "List categories", PAGE + DELTA),
    ("POST", "/api/v1/categories/"): ("categories_create", "Create a category", IDEMPOTENT.strip()),
    ("GET", "/api/v1/categories/{id}/"): ("categories_retrieve", "Read a category", ETAG.strip()),
    ("PATCH", "/api/v1/categories/{id}/"): ("categories_partial_update", "Change a category", PATCH.strip()),
    ("GET", "/api/v1/suppliers/"): (
        "suppliers_list",
        "List suppliers",
        "Filters: `name`, `external_id`; `ordering`. " + PAGE + DELTA,
    ),
    ("POST", "/api/v1/suppliers/"): ("suppliers_create", "Create a supplier", IDEMPOTENT.strip()),
    ("GET", "/api/v1/suppliers/{id}/"): ("suppliers_retrieve", "Read a supplier", ETAG.strip()),
    ("PATCH", "/api/v1/suppliers/{id}/"): ("suppliers_partial_update", "Change a supplier", PATCH.strip()),
    ("GET", "/api/v1/customers/"): (
        "customers_list",
        "List customers",
        "Find by exact `email` or `phone` (matched by a keyed hash: contact data is stored encrypted) "
        "or `external_id`. " + PAGE + DELTA,
    ),
    ("POST", "/api/v1/customers/"): ("customers_create", "Create a customer", IDEMPOTENT.strip()),
    ("GET", "/api/v1/customers/{id}/"): ("customers_retrieve", "Read a customer", ETAG.strip()),
    ("PATCH", "/api/v1/customers/{id}/"): ("customers_partial_update", "Change a customer", PATCH.strip()),
    ("GET", "/api/v1/customers/{customer_id}/export/"): (
        "customers_export",
        "Everything about one customer",
        "The data-subject access request: the customer, their sales and refunds, as JSON.",
    ),
    ("POST", "/api/v1/customers/{customer_id}/erase/"): (
        "customers_erase",
        "Erase a customer",
        "Asks for the customer's anonymisation everywhere, sales figures kept: 202 with the erasure "
        "job (`customer_erasures_retrieve` shows its progress); asking again answers the same job. "
        "Needs `erase_customers`, a sign-in with a second factor (403 `second_factor_required`) and "
        "a `reason`.",
    ),
    ("GET", "/api/v1/customer-erasures/{erasure_id}/"): (
        "customer_erasures_retrieve",
        "Read an erasure",
        "An erasure job's status and progress (percent); `erased_at` once it is done.",
    ),
    # --- stock
    ("GET", "/api/v1/stock/"): (
        "stock_list",
        "List stock levels",
        "Per store and product: `quantity`, `reorder_point`. Filters: `store`, `product`, `sku`, "
        "`below_reorder_point`. " + PAGE + DELTA,
    ),
    ("GET", "/api/v1/stock/{id}/"): ("stock_retrieve", "Read a stock level", ETAG.strip()),
    ("PATCH", "/api/v1/stock/{id}/"): (
        "stock_partial_update",
        "Set a reorder point",
        "Only `reorder_point` can change here; quantities change through movements and sales." + PATCH,
    ),
    ("GET", "/api/v1/stock-movements/"): (
        "stock_movements_list",
        "List the stock ledger",
        "Every change of stock with the balance after it. Filters: `store`, `product`, `kind`, `since`, "
        "`until` (creation time). " + CURSOR,
    ),
    ("POST", "/api/v1/stock-movements/"): (
        "stock_movements_create",
        "Receive, adjust, count or transfer stock",
        "`kind`: `receive` (quantity in), `adjust` (signed change, with a reason), `count` (the units "
        "counted) or `transfer` (to `to_store`)." + IDEMPOTENT,
    ),
    ("POST", "/api/v1/stock-counts/bulk/"): (
        "stock_counts_bulk_record",
        "Record up to 1,000 stock counts",
        "Each row names a store, a product (`product` id or `sku`) and `counted`: the stock becomes the "
        "count through one `count` movement (none when it already is). One result per row: `updated`, "
        "`unchanged` or `invalid` with `fields`; valid rows are applied together." + IDEMPOTENT,
    ),
    # --- sales
    ("GET", "/api/v1/sales/"): (
        "sales_list",
        "List sales",
        "Filters: `store`, `customer`, `status`, `receipt_number`, `since`, `until` (creation time). "
        + CURSOR
        + DELTA
        + " A refund moves its sale's `updated_at`.",
    ),
    ("POST", "/api/v1/sales/"): (
        "sales_create",
        "Record a sale",
        "All lines or none; 409 `insufficient_stock` when a store does not allow negative stock. "
        "Payments must cover the total; only cash can be overpaid." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/sales/{sale_id}/"): (
        "sales_retrieve",
        "Read a sale",
        "With its lines and payments. " + ETAG,
    ),
    ("POST", "/api/v1/sales/{sale_id}/refund/"): (
        "sales_refund",
        "Refund a sale",
        "The whole sale (no `lines`) or some of its lines; the goods go back to stock unless `restock` "
        "is false." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/refunds/"): (
        "refunds_list",
        "List refunds",
        "Refunds in delta order, oldest first: `(updated_at, id)`, `updated_since` and `cursor` as in every "
        "delta list; `page_size` 50, at most 500. Filters: `store`, `sale`.",
    ),
    ("GET", "/api/v1/product-imports/{import_id}/"): (
        "product_imports_retrieve",
        "Read a CSV import job",
        "Status, progress (percent), counts and the first refused rows of an import started in the admin.",
    ),
    # --- webhooks
    ("GET", "/api/v1/webhooks/"): ("webhooks_list", "List webhooks", PAGE),
    ("POST", "/api/v1/webhooks/"): (
        "webhooks_create",
        "Register a webhook",
        "An `https://` URL and the events to send (`sale.created`, `sale.refunded`, `stock.changed`, "
        "`product.changed`, `customer.changed`). The answer holds the signing `secret`: it is shown only "
        "this once. Deliveries are POSTs with `Kassa-Event`, `Kassa-Delivery` (the same on every retry) "
        'and `Kassa-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.',
    ),
    ("GET", "/api/v1/webhooks/{webhook_id}/"): (
        "webhooks_retrieve",
        "Read a webhook",
        "`disabled_at` is set when Kassa turned it off after 24 hours of failures. " + ETAG,
    ),
    ("PATCH", "/api/v1/webhooks/{webhook_id}/"): (
        "webhooks_partial_update",
        "Change a webhook",
        "`active: true` turns an automatically disabled webhook on again." + PATCH,
    ),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries/"): (
        "webhooks_deliveries_list",
        "The delivery log",
        "Every attempt, newest first: the delivery id, event, attempt number, status code (none when "
        "there was no answer) and error. " + CURSOR,
    ),
    ("POST", "/api/v1/webhooks/{webhook_id}/test/"): (
        "webhooks_test",
        "Send a test ping",
        "Queues a `ping` event to this webhook only, delivered and logged like any other (202).",
    ),
    # --- accounts: recovery and service users' keys
    ("POST", "/api/v1/users/{user_id}/mfa/reset/"): (
        "users_mfa_reset",
        "Reset a user's MFA",
        "Removes the user's authenticators and backup codes and gives a fresh enrolment grace; their "
        "sessions and tokens end (204). Needs `manage_users` over the user's stores; logged.",
    ),
    ("POST", "/api/v1/users/{user_id}/reactivate/"): (
        "users_reactivate",
        "Reactivate a user",
        "Turns a deactivated user back on (also after the dormancy job); the password must be changed "
        "at first use (204). 409 `conflict` for an active user.",
    ),
    ("GET", "/api/v1/users/{user_id}/keys/"): (
        "users_keys_list",
        "List a service user's keys",
        "Prefix, scopes, expiry, last use, revocation and rotation of each key; never its secret.",
    ),
    ("POST", "/api/v1/keys/{key_id}/revoke/"): (
        "keys_revoke",
        "Revoke a key",
        "The key stops working now (204); a revoked, expired or rotated key answers 409.",
    ),
    ("POST", "/api/v1/keys/{key_id}/rotate/"): (
        "keys_rotate",
        "Rotate a key",
        "A new secret with the same name, scopes and allow-list for 90 days, shown once (201); the old "
        "one keeps working for `overlap_seconds` (default 86400, at most 7 days), then stops.",
    ),
    # --- back office
    ("GET", "/api/v1/purchase-orders/"): (
        "purchase_orders_list",
        "List purchase orders",
        "Purchase orders of the caller's stores. " + PAGE,
    ),
    ("POST", "/api/v1/purchase-orders/"): (
        "purchase_orders_create",
        "Create a purchase order",
        "A draft with its lines (quantity, unit cost); `manage_purchasing` in the store." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/purchase-orders/{order_id}/"): (
        "purchase_orders_retrieve",
        "Read a purchase order",
        "The order with its lines and what was received of each.",
    ),
    ("PATCH", "/api/v1/purchase-orders/{order_id}/"): (
        "purchase_orders_partial_update",
        "Change a draft purchase order",
        "Only a draft changes; its lines are replaced when given.",
    ),
    ("POST", "/api/v1/purchase-orders/{order_id}/order/"): (
        "purchase_orders_order",
        "Send a purchase order",
        "A draft goes to `ordered`.",
    ),
    ("POST", "/api/v1/purchase-orders/{order_id}/cancel/"): (
        "purchase_orders_cancel",
        "Cancel a purchase order",
        "An open order is cancelled; what was received stays received.",
    ),
    ("POST", "/api/v1/purchase-orders/{order_id}/receive/"): (
        "purchase_orders_receive",
        "Receive a delivery",
        "Writes `receive` movements at each line's cost and updates the products' moving-average "
        "cost; over-receiving is a 400." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/reorder/"): (
        "reorder_list",
        "The reorder list",
        "Products of a store (`?store=`) at or below their reorder point, with the suggested quantity.",
    ),
    ("POST", "/api/v1/reorder/"): (
        "reorder_create",
        "Draft purchase orders from the reorder list",
        "One draft per supplier for the store's reorder list, in one step.",
    ),
    ("GET", "/api/v1/stocktakes/"): (
        "stocktakes_list",
        "List stocktakes",
        "Stocktakes of the caller's stores (without their lines). " + PAGE,
    ),
    ("POST", "/api/v1/stocktakes/"): (
        "stocktakes_create",
        "Start a stocktake",
        "For a store (all products or a category); freezes the expected quantities. `adjust_stock`.",
    ),
    ("GET", "/api/v1/stocktakes/{stocktake_id}/"): (
        "stocktakes_retrieve",
        "Read a stocktake",
        "A stocktake with its lines; once finished, its variance report (quantity and value at cost).",
    ),
    ("POST", "/api/v1/stocktakes/{stocktake_id}/counts/"): (
        "stocktakes_count",
        "Enter counts",
        "Repeatable, several staff at once; the last count of a product wins (with who and when).",
    ),
    ("POST", "/api/v1/stocktakes/{stocktake_id}/finish/"): (
        "stocktakes_finish",
        "Finish a stocktake",
        "Writes one `count` movement per difference and answers the variance report.",
    ),
    ("POST", "/api/v1/stocktakes/{stocktake_id}/cancel/"): (
        "stocktakes_cancel",
        "Cancel a stocktake",
        "Stops the stocktake without changing stock.",
    ),
    ("GET", "/api/v1/transfers/"): (
        "transfers_list",
        "List transfers",
        "Transfers from or to the caller's stores. " + PAGE,
    ),
    ("POST", "/api/v1/transfers/"): (
        "transfers_create",
        "Send a transfer",
        "Stock leaves the source store now (`transfer_stock` there) and is in transit." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/transfers/{transfer_id}/"): (
        "transfers_retrieve",
        "Read a transfer",
        "A transfer with its lines, what arrived and the discrepancy note.",
    ),
    ("POST", "/api/v1/transfers/{transfer_id}/receive/"): (
        "transfers_receive",
        "Receive a transfer",
        "Takes the transfer in at its destination (`receive_stock` there), once; less than sent needs a note.",
    ),
    # --- the register and the day
    ("POST", "/api/v1/returns/"): (
        "returns_create",
        "Take goods back without a receipt",
        "At today's prices, with a reason and how the money goes back; `refund_without_receipt` in the "
        "store, or `sell` with a manager's `approved_by`." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/shifts/"): (
        "shifts_list",
        "List register shifts",
        "Filters `store`, `status`, `register`. " + PAGE,
    ),
    ("POST", "/api/v1/shifts/"): (
        "shifts_create",
        "Open a shift",
        "On a register with the float in the drawer (`manage_shifts` in the store); 409 "
        "`shift_already_open` when the register has one.",
    ),
    ("GET", "/api/v1/shifts/{shift_id}/"): ("shifts_retrieve", "Read a shift", ""),
    ("POST", "/api/v1/shifts/{shift_id}/cash/"): (
        "shifts_cash",
        "Pay cash in or out",
        "`pay_in` or `pay_out` with an amount and a reason; 409 `shift_closed` once closed.",
    ),
    ("POST", "/api/v1/shifts/{shift_id}/close/"): (
        "shifts_close",
        "Close a shift",
        "With the cash counted: answers the Z report, stored for good.",
    ),
    ("GET", "/api/v1/shifts/{shift_id}/report/"): (
        "shifts_report",
        "A shift's X or Z report",
        "The X report of an open shift (its figures so far); of a closed one, its stored Z report.",
    ),
    ("GET", "/api/v1/reports/sales/"): (
        "reports_sales",
        "Sales report",
        "Sales less refunds between `since` and `until`, by local day, product, category, store or "
        "cashier (`group_by`); `?format=csv` for CSV. Store managers see their stores.",
    ),
    ("GET", "/api/v1/reports/tax/"): (
        "reports_tax",
        "Tax report",
        "Per tax rate: net, tax and gross of the sales less the refunds; `?format=csv` for CSV.",
    ),
    ("GET", "/api/v1/reports/stock-value/"): (
        "reports_stock_value",
        "Stock value report",
        "Quantity on hand and its value at cost, per product and store; `?format=csv` for CSV.",
    ),
    ("GET", "/api/v1/termination/"): (
        "termination_retrieve",
        "The chain's end",
        "Status, subscription end, grace period and purge date, as the chain's owners see them "
        "(`manage_settings`).",
    ),
    ("POST", "/api/v1/termination/"): (
        "termination_create",
        "End the chain's subscription",
        '`{"confirm": "<slug>"}` by an owner signed in with a second factor (403 '
        "`second_factor_required`): the privileged worker ends the subscription (202); only owners "
        "sign in during the grace period, to export, then everything is purged. The first confirmation "
        "answers `certificate_token`, the purge certificate's claim token, shown this once (null on "
        "any later confirmation, which changes nothing: no new token, the same grace period). The "
        "answer is not kept for an `Idempotency-Key` replay (409).",
    ),
    ("GET", "/api/v1/purge-certificate/"): (
        "purge_certificate_claim",
        "Fetch the purge certificate with its claim token",
        "On the platform host, with the `Kassa-Certificate-Token` header (the token from the "
        "termination's answer; it works any number of times while the certificate is kept): the "
        "certificate (counts per table, objects per region, key ids destroyed, times; no customer "
        "data). 409 `purge_not_done` with `purge_due_at` before the purge is complete; 404 for a "
        "token that matches nothing and on a tenant's host; 429 past `KASSA_CERTIFICATE_CLAIM_RATE` "
        "per address (10/hour).",
    ),
    # --- audit
    ("GET", "/api/v1/audit/access/"): (
        "audit_access_list",
        "The access log",
        "One row per request. Filters: `user`, `ip`, `host`, `method`, `status`, `since`, `until`. "
        + CURSOR
        + " `?format=csv` streams the whole selection as CSV.",
    ),
    ("GET", "/api/v1/audit/logins/"): (
        "audit_logins_list",
        "The sign-in log",
        "Every sign-in attempt with its outcome. Filters: `username`, `outcome`, `ip`, `since`, `until`. "
        + CURSOR
        + " `?format=csv` streams CSV.",
    ),
    ("GET", "/api/v1/audit/changes/"): (
        "audit_changes_list",
        "The change log",
        "Every create, update and delete with before and after values (secrets masked). Filters: `model`, "
        "`object_id`, `user`, `since`, `until`. " + CURSOR + " `?format=csv` streams CSV.",
    ),
    ("GET", "/api/v1/audit/api-calls/"): (
        "audit_api_calls_list",
        "The API-call log",
        "Requests and answers of API calls, secrets redacted. Filters: `user`, `method`, `status`, "
        "`since`, `until`. " + CURSOR + " `?format=csv` streams CSV.",
    ),
    ("GET", "/api/v1/audit/settings/"): (
        "audit_settings_retrieve",
        "The log's retention and last verification",
        "How many days the logs are kept (`retention_days`, at least `minimum_retention_days`) and "
        "the result of the last nightly verification of the seal chain.",
    ),
    ("PATCH", "/api/v1/audit/settings/"): (
        "audit_settings_update",
        "Change the log's retention",
        "`retention_days` (at least `minimum_retention_days`); needs `manage_settings`. Logged.",
    ),
    # --- exports and backups
    ("GET", "/api/v1/exports/"): ("exports_list", "List my exports", PAGE),
    ("POST", "/api/v1/exports/"): (
        "exports_create",
        "Start an export",
        "`full` or one entity kind; 202 with the job's id. Poll `exports_retrieve` for its progress."
        + IDEMPOTENT,
    ),
    ("GET", "/api/v1/exports/{export_id}/"): (
        "exports_retrieve",
        "Read an export job",
        "`status`, `progress` (percent) and, once done, `download_url` and `expires_at`.",
    ),
    ("GET", "/api/v1/exports/{export_id}/download/"): (
        "exports_download",
        "Download an export",
        "The ZIP (JSON Lines and CSV per table), for the requester only, until it expires.",
    ),
    ("GET", "/api/v1/exports/{kind}.csv"): (
        "exports_entity_csv",
        "One entity as CSV",
        "Streamed at once when small; otherwise 202 with an export job to poll.",
    ),
    ("GET", "/api/v1/backups/"): ("backups_list", "List backups", "The chain's backups with status. " + PAGE),
    ("POST", "/api/v1/backups/"): (
        "backups_create",
        "Start a backup",
        "202 with the backup's id." + IDEMPOTENT,
    ),
    ("GET", "/api/v1/restore-drills/"): (
        "restore_drills_list",
        "List restore drills",
        "Whether the latest backup restored and matched its manifest. " + PAGE,
    ),
}


def postprocess(result, generator, request, public):
    """Put each operation's id, summary and description from OPERATIONS into the schema."""
    result["info"]["description"] = (
        "The Kassa API for integrators: see docs/integrators.md for authentication with keys, "
        "pagination and delta sync, webhooks, bulk writes, idempotency, errors and limits."
    )
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            entry = OPERATIONS.get((method.upper(), path))
            if entry is None:
                continue  # tests/kassa/test_openapi.py names it
            operation["operationId"], operation["summary"], description = entry
            if description:
                operation["description"] = description
            else:
                operation.pop("description", None)
    return result
