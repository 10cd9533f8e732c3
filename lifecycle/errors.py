"""Refusals of backups, restores and purges (codes are snake_case, shared by APIs and commands)."""

from core.errors import DomainError


class LifecycleError(DomainError):
    """A backup, restore or purge was refused; `code` says which rule."""


class BackupBusy(LifecycleError):
    """Another worker is running this backup now."""

    code = "backup_busy"
    default_detail = "another worker is running this backup"
