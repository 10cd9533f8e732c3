"""The access-log review at /audit/: filters, the sign-in timeline, who fails, lockouts, support
access, requests, changes and the history of one object; CSV of what is filtered.

Reads go through `auditlog.selectors` within `accounts.selectors.log_scope`, so the scope is the
API's: `view_chain_logs` reads the chain, `view_store_logs` the reader's stores, anyone else 403.
"""

from datetime import datetime, time, timedelta

from django import forms
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncDay, TruncHour
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.models import RoleAssignment, SupportGrant, User
from accounts.selectors import log_scope
from auditlog import selectors
from auditlog.apis import AccessListApi, ChangeListApi, SignInListApi, _csv_stream
from auditlog.models import SignInEvent
from auditlog.selectors import LogScope
from core.replica import reads_from_replica
from tenants.models import Store
from web import charts
from web.access import tenant_staff_required

DEFAULT_DAYS = 7
MAX_DAYS = 400
ROWS = 50
FAILED = (SignInEvent.Outcome.FAILURE, SignInEvent.Outcome.LOCKED_OUT)


class AuditFilters(forms.Form):
    user = forms.ChoiceField(label=_("User"), required=False)
    store = forms.ChoiceField(label=_("Store"), required=False)
    ip = forms.GenericIPAddressField(label=_("IP address"), required=False)
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[
            ("", _("Any")),
            ("success", _("Success")),
            ("failure", _("Failure")),
            ("locked_out", _("Locked out")),
            ("pending", _("Password ok, code pending")),
        ],
    )
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, scope: LogScope):
        super().__init__(data)
        stores = scope.stores
        store_rows = Store.objects.all() if stores is None else Store.objects.filter(pk__in=stores)
        users = User.objects.filter(tenant_id__isnull=False)
        if stores is not None:
            users = users.filter(pk__in=scope.store_users)
        self.fields["store"].choices = [("", _("All my stores"))] + [(str(s.pk), s.name) for s in store_rows]
        self.fields["user"].choices = [("", _("Anyone"))] + [
            (str(u.pk), u.username) for u in users.order_by("username")
        ]

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        until = data.get("until") or today
        since = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise forms.ValidationError(_("The start is after the end."))
        if (until - since).days >= MAX_DAYS:
            raise forms.ValidationError(_("Choose at most %(days)d days.") % {"days": MAX_DAYS})
        data["since"], data["until"] = since, until
        tz = timezone.get_current_timezone()
        data["since_at"] = datetime.combine(since, time.min, tzinfo=tz)
        data["until_at"] = datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz)
        return data


def _filtered(scope: LogScope, data: dict):
    """The sign-in, access and change querysets of the filters (all in the reader's scope)."""
    common = {"since": data["since_at"], "until": data["until_at"], "user": data.get("user") or None}
    store = data.get("store") or None
    signins = selectors.signin_list(scope=scope, filters={**common, "ip": data.get("ip")})
    access = selectors.access_list(scope=scope, filters={**common, "ip": data.get("ip")})
    changes = selectors.change_list(scope=scope, filters=common)
    if store:
        signins = signins.filter(user_id__in=RoleAssignment.objects.filter(store_id=store).values("user_id"))
        access = access.filter(store_id=store)
        changes = changes.filter(store_id=store)
    if data.get("ip"):
        changes = changes.none()  # changes carry no address; their requests do
    return signins, access, changes


def _outcome(signins, access, outcome: str):
    if not outcome:
        return signins, access
    access = access.filter(status__lt=400) if outcome == "success" else access.filter(status__gte=400)
    return signins.filter(outcome=outcome), access


def _usernames(ids) -> dict:
    ids = {i for i in ids if i}
    return {u.pk: u.username for u in User.objects.filter(pk__in=ids)} if ids else {}


def _timeline(signins, data: dict) -> dict:
    days = (data["until"] - data["since"]).days + 1
    step = timedelta(hours=1) if days <= 2 else timedelta(days=1)
    trunc = TruncHour if days <= 2 else TruncDay
    rows = (
        signins.filter(kind=SignInEvent.Kind.SIGN_IN)
        .annotate(bucket=trunc("created_at"))
        .values("bucket")
        .annotate(
            ok=Count("id", filter=Q(outcome=SignInEvent.Outcome.SUCCESS)),
            failed=Count("id", filter=Q(outcome__in=FAILED)),
        )
        .order_by()
    )
    counts = {row["bucket"]: (row["ok"], row["failed"]) for row in rows}
    return charts.timeline(counts=counts, since=data["since_at"], until=data["until_at"], step=step)


@tenant_staff_required
@require_GET
@reads_from_replica
def audit_review(request):
    scope = log_scope(reader=request.user)
    form = AuditFilters(request.GET, scope=scope)
    if not form.is_valid():
        return render(request, "web/audit.html", {"form": form, "invalid": True}, status=400)
    data = form.cleaned_data
    signins_all, access_all, changes = _filtered(scope, data)
    signins, access = _outcome(signins_all, access_all, data.get("outcome", ""))
    failures = signins_all.filter(kind=SignInEvent.Kind.SIGN_IN, outcome__in=FAILED).order_by()
    support = (
        access_all.filter(support_grant_id__isnull=False)
        .values("support_grant_id")
        .annotate(requests=Count("id"), first=Min("created_at"), last=Max("created_at"))
        .order_by("-last")[:20]
    )
    support = list(support)
    grants = {g.pk: g for g in SupportGrant.objects.filter(pk__in=[s["support_grant_id"] for s in support])}
    for session in support:
        session["grant"] = grants.get(session["support_grant_id"])
    access_rows = list(access.order_by("-created_at", "-id")[:ROWS])
    change_rows = list(changes.order_by("-created_at", "-id")[:ROWS])
    names = _usernames([row.user_id for row in access_rows] + [row.user_id for row in change_rows])
    for row in access_rows + change_rows:
        row.username = names.get(row.user_id, "")
    query = request.GET.urlencode()
    return render(
        request,
        "web/audit.html",
        {
            "form": form,
            "chain": scope.stores is None,
            "chart": _timeline(signins, data),
            "signins": signins.order_by("-created_at", "-id")[:ROWS],
            "top_ips": failures.values("ip").annotate(n=Count("id")).order_by("-n", "ip")[:8],
            "top_users": failures.values("username").annotate(n=Count("id")).order_by("-n", "username")[:8],
            "lockouts": signins_all.filter(kind=SignInEvent.Kind.LOCKOUT).order_by("-created_at")[:20],
            "support": support,
            "access": access_rows,
            "changes": change_rows,
            "query": query,
            "rows": ROWS,
        },
    )


EXPORTS = {"logins": SignInListApi, "access": AccessListApi, "changes": ChangeListApi}


@tenant_staff_required
@require_GET
@reads_from_replica
def audit_export(request):
    """The filtered entries of one log (`?log=logins|access|changes`) as CSV, streamed with the
    columns of the audit API's CSV."""
    kind = request.GET.get("log", "")
    api = EXPORTS.get(kind)
    if api is None:
        raise Http404("No such log.")
    scope = log_scope(reader=request.user)
    form = AuditFilters(request.GET, scope=scope)
    if not form.is_valid():
        return render(request, "web/audit.html", {"form": form, "invalid": True}, status=400)
    signins, access, changes = _filtered(scope, form.cleaned_data)
    signins, access = _outcome(signins, access, form.cleaned_data.get("outcome", ""))
    queryset = {"logins": signins, "access": access, "changes": changes}[kind]
    response = StreamingHttpResponse(
        _csv_stream(queryset.order_by("-created_at", "-id"), api.fields, request.tenant),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="audit-{kind}.csv"'
    return response


def _difference(event) -> list[tuple[str, object, object]]:
    before, after = event.before or {}, event.after or {}
    keys = sorted(set(before) | set(after))
    return [(key, before.get(key), after.get(key)) for key in keys if before.get(key) != after.get(key)]


@tenant_staff_required
@require_GET
@reads_from_replica
def audit_object(request):
    """Every recorded change of one object, with the requests that made them."""
    scope = log_scope(reader=request.user)
    model = request.GET.get("model", "").strip().lower()[:100]
    object_id = request.GET.get("object_id", "").strip()[:64]
    context = {"model": model, "object_id": object_id}
    if not model and not object_id:
        return render(request, "web/audit_object.html", context)
    if not model or not object_id:
        context["error"] = _("Give both the kind of object and its id.")
        return render(request, "web/audit_object.html", context, status=400)
    events = list(
        selectors.change_list(scope=scope, filters={"model": model, "object_id": object_id}).order_by(
            "created_at", "id"
        )
    )
    if not events:
        raise Http404("No recorded changes of this object.")
    request_ids = {event.request_id for event in events if event.request_id}
    made_by = {
        row.request_id: row
        for row in selectors.access_list(scope=scope, filters={}).filter(request_id__in=request_ids)
    }
    names = _usernames([event.user_id for event in events])
    for event in events:
        event.username = names.get(event.user_id, "")
        event.difference = _difference(event)
        event.request = made_by.get(event.request_id)
    context["events"] = events
    return render(request, "web/audit_object.html", context)
