"""Refusals of the webhook services (core.errors kinds, each with its documented code)."""

from core.errors import Conflict


class EndpointInactive(Conflict):
    code = "conflict"
    default_detail = "This webhook is not active: turn it on first."
