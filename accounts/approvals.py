"""A manager's approval at the register: their username and password (and one-time code when
their policy asks for one), checked by the sign-in rules.

The check is `accounts.signin.signin_check` with `kind=approval`: the same lockout counters,
per-address throttle, MFA rule and sign-in record (`SignInEvent`, kind `approval`, the purpose
as the reason of a success, the failure's reason otherwise). It is never a second password
check. Because a failed attempt must count and stay recorded even though the operation it was
for is refused, callers run it outside the transaction of that operation (the sale and refund
views are not atomic; they open their own transaction after the approval was checked).

What the approver may approve is the service's rule (`inventory.services.sales`): an
`Approval` only says who proved to be at the register, and for what.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext

from accounts.models import User
from accounts.signin import SignInRefused, signin_check
from auditlog.models import SignInEvent
from core.errors import Forbidden

DISCOUNT = "approve_discount"
REFUND = "approve_refund"
RETURN = "approve_return"
PURPOSES = (DISCOUNT, REFUND, RETURN)


@dataclass(frozen=True)
class Approval:
    """A user whose credentials were checked just now, for `purpose`."""

    user: User
    purpose: str


class ApprovalRefused(Forbidden):
    """The approver's credentials were refused (403 with the operation's code)."""


def approval_check(
    *,
    request,
    username: str,
    password: str,
    otp: str | None,
    purpose: str,
    channel: str,
    refusal_code: str = "permission_denied",
) -> Approval:
    """Check an approver's credentials as a sign-in attempt; ApprovalRefused when they fail."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown approval purpose {purpose!r}")
    try:
        signed = signin_check(
            request=request,
            username=username,
            password=password,
            otp=otp or None,
            channel=channel,
            kind=SignInEvent.Kind.APPROVAL,
            purpose=purpose,
        )
    except SignInRefused as refusal:
        if refusal.code == "otp_required":
            detail = gettext("The approver's one-time code is required.")
        else:
            detail = gettext("The approval was refused: %(reason)s") % {"reason": refusal.detail}
        raise ApprovalRefused(detail, code=refusal_code) from None
    if signed.password_change_required:
        raise ApprovalRefused(gettext("The approver must change their password first."), code=refusal_code)
    return Approval(user=signed.user, purpose=purpose)
