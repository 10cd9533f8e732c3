"""Error codes of exports and customer-data requests (snake_case, shared by APIs and commands)."""

from core.errors import Conflict, Gone


class ExportError(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code


class ExportExpired(Gone):
    code = "export_expired"
    default_detail = "This export has expired; start a new one."


class ExportNotReady(Conflict):
    def __init__(self, state: str):
        super().__init__(f"This export is {state}, not ready to download.")
