"""Domain errors: plain exceptions with a documented code, raised by services and selectors.

They know nothing of HTTP. The API's one exception handler (core.api.exception_handler) maps
each class to its status; the admin turns them into form errors; commands print them. The
codes are the ones interface.md documents (`snake_case`).
"""

from django.http import Http404


class DomainError(Exception):
    """A rule refused the operation (400 unless a subclass says otherwise)."""

    code = "invalid"
    default_detail = "The request was refused."

    def __init__(self, detail: str | None = None, *, code: str | None = None):
        self.detail = detail or self.default_detail
        if code is not None:
            self.code = code
        super().__init__(self.detail)


class NotFound(DomainError, Http404):
    """Missing, or another tenant's, or outside the actor's stores: the same answer (404)."""

    code = "not_found"
    default_detail = "Not found."


class Forbidden(DomainError):
    """The actor may not do this (403)."""

    code = "permission_denied"
    default_detail = "You may not do this."


class Conflict(DomainError):
    """The state of things does not allow it now (409)."""

    code = "conflict"
    default_detail = "This conflicts with the current state."


class Gone(DomainError):
    """It existed and is no longer available (410)."""

    code = "gone"
    default_detail = "This is no longer available."


class Unprocessable(DomainError):
    """Well-formed, but it cannot be processed as asked (422)."""

    code = "unprocessable"
    default_detail = "This request cannot be processed."


class PreconditionFailed(DomainError):
    """The client's `If-Match` names a version that is no longer current (412)."""

    code = "precondition_failed"
    default_detail = "The object changed since you read it: read it again, then repeat the change."
