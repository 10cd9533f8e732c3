"""Who is acting and in which request: for the access log and for the change-log triggers.

The triggers read pghistory's context (`pghistory.context_metadata`, set before each writing
statement by pghistory's execute wrapper). The actor is read when a statement runs, not when
the request starts: DRF authenticates inside the view and sets `request.user`/`request.auth`
on the Django request too.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.functional import SimpleLazyObject, empty


def actor_of(request) -> tuple:
    """(user id, token id, support grant id) of the request so far; Nones when anonymous."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        # Session user not loaded by anyone: nobody signed in as far as this request went.
        user = None if user._wrapped is empty else user._wrapped
    user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
    auth = request.__dict__.get("auth")
    token_id = auth.pk if auth is not None and hasattr(auth, "token_hash") else None
    grant_id = getattr(auth, "support_grant_id", None) if token_id is not None else None
    return user_id, token_id, grant_id


class RequestActor:
    """Serialised into pghistory's context metadata at each statement (ContextEncoder)."""

    __slots__ = ("request",)

    def __init__(self, request):
        self.request = request

    def as_dict(self) -> dict:
        user_id, token_id, grant_id = actor_of(self.request)
        return {"user": user_id, "token": token_id, "grant": grant_id}


class ContextEncoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, RequestActor):
            return o.as_dict()
        return super().default(o)
