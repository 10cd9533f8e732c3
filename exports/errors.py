"""Error codes of exports and customer-data requests (snake_case, shared by APIs and commands)."""

from core.errors import Conflict, DomainError, Gone


class ExportError(DomainError):
    """An export or an import was refused; `code` says which rule."""


class ExportExpired(Gone):
    code = "export_expired"
    default_detail = "This export has expired; start a new one."


class ExportNotReady(Conflict):
    def __init__(self, state: str):
        super().__init__(f"This export is {state}, not ready to download.")
