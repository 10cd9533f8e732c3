"""The lifecycle's write paths, one module per subject; import from the module itself.

- `onboarding`: a tenant's start (tenant, domain, data key, roles, owner).
- `backups`: create, run, verify and expire backups (the backup file's frames and digests).
- `restore`: restore a backup into its tenant or a new one (`tenant_shell_create`).
- `drills`: restore drills into a scratch tenant.
- `purge`: termination, the purge after the grace period, deleting a tenant's rows.
- `claims`: the purge certificate's claim token (issued at the owner's confirmation, read on the
  platform host after the purge), through two SECURITY DEFINER functions (migration 0004).
- `remap`: the SQL that moves rows into another tenant with new keys (restore and import).

Every write of theirs is the maintenance role's (`tenants.maintenance`): the services wear
`@as_maintenance()`, so they run only in the privileged worker and manage.py, and raw SQL goes
through `maintenance_transaction(tenant)` with the tenant selected (row-level security still
applies). Audit entries are deleted only through `kassa_audit_delete()` (auditlog.deletion).
The entry points a request may call are `backups.backup_request` and `purge.termination_request`,
which only enqueue (the latter also issues the claim token), and the claim's read.
"""
