"""Who may open the staff pages (register, audit review): a signed-in user of the host's tenant."""

from functools import wraps
from urllib.parse import urlencode

from django.http import Http404, JsonResponse
from django.shortcuts import redirect


def wants_json(request) -> bool:
    """A script's request (the register's): it asks for JSON and gets JSON, never a redirect."""
    return request.headers.get("Accept", "").startswith("application/json")


def tenant_staff_required(view):
    """Tenant hosts only (the platform host has no register or tenant log: 404); sign-in first."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            raise Http404("No such page on the platform host.")
        user = request.user
        if not user.is_authenticated:
            if wants_json(request):
                return JsonResponse({"code": "not_authenticated", "detail": "Sign in again."}, status=401)
            return redirect(f"/login/?{urlencode({'next': request.get_full_path()})}")
        if user.tenant_id != tenant.pk:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapped
