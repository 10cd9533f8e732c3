"""The lifecycle's write paths, one module per subject; import from the module itself.

- `onboarding`: a tenant's start (tenant, domain, data key, roles, owner).
- `backups`: create, run, verify and expire backups (the backup file's frames and digests).
- `restore`: restore a backup into its tenant or a new one (`tenant_shell_create`).
- `drills`: restore drills into a scratch tenant.
- `purge`: termination, the purge after the grace period, deleting a tenant's rows.
- `remap`: the SQL that moves rows into another tenant with new keys (restore and import).

Every step that reads or writes tenant rows runs as the owner role ("owner" connection) with
the tenant selected, so row-level security still applies; the append-only audit tables are
changed only through their privileged path (`kassa.audit_purge`, owner role, see auditlog).
"""
