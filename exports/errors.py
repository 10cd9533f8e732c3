"""Error codes of exports and customer-data requests (snake_case, shared by APIs and commands)."""

from rest_framework import status

from kassa.api import ApiError


class ExportError(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code


class ExportExpired(ApiError):
    def __init__(self):
        super().__init__(
            "This export has expired; start a new one.",
            code="export_expired",
            status_code=status.HTTP_410_GONE,
        )


class ExportNotReady(ApiError):
    def __init__(self, state: str):
        super().__init__(
            f"This export is {state}, not ready to download.",
            code="conflict",
            status_code=status.HTTP_409_CONFLICT,
        )
