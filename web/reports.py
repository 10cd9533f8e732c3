"""The report pages at /reports/: sales (with a chart), tax per rate and stock value, each with
its CSV. They read through `reports.selectors`, so the scope is the API's: the stores where the
reader may view sales, in each store's local time."""

from datetime import timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts import authz
from accounts.permissions import VIEW_SALES
from reports import selectors
from tenants.context import get_current_tenant
from tenants.timezones import local_today
from web import charts
from web.access import tenant_staff_required

KINDS = ("sales", "tax", "stock-value")


class ReportFilters(forms.Form):
    group_by = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[
            ("day", _("Day")),
            ("product", _("Product")),
            ("category", _("Category")),
            ("store", _("Store")),
            ("cashier", _("Cashier")),
        ],
    )
    store = forms.ChoiceField(label=_("Store"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, user):
        super().__init__(data)
        self.stores = selectors.stores_for(user=user)
        self.fields["store"].choices = [("", _("All my stores"))] + [(str(s.pk), s.name) for s in self.stores]

    def clean(self):
        data = super().clean()
        today = local_today(get_current_tenant())
        until = data.get("until") or today
        since = data.get("since") or until - timedelta(days=selectors.DEFAULT_DAYS - 1)
        if since > until:
            raise forms.ValidationError(_("The start is after the end."))
        if (until - since).days >= selectors.MAX_DAYS:
            raise forms.ValidationError(_("Choose at most %(days)d days.") % {"days": selectors.MAX_DAYS})
        data["since"], data["until"] = since, until
        data["group_by"] = data.get("group_by") or "day"
        data["store_obj"] = next((s for s in self.stores if str(s.pk) == data.get("store")), None)
        data["period"] = selectors.Period(since=since, until=until)
        return data


def _csv(name: str, header, rows) -> HttpResponse:
    response = HttpResponse(selectors.csv_text(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@tenant_staff_required
@require_GET
def report(request, kind: str = "sales"):
    if not authz.can(request.user, VIEW_SALES):
        raise PermissionDenied(_("You may not view sales."))
    if kind not in KINDS:
        from django.http import Http404

        raise Http404("No such report.")
    form = ReportFilters(request.GET, user=request.user)
    context = {"form": form, "kind": kind, "query": request.GET.urlencode()}
    if not form.is_valid():
        return render(request, "web/reports.html", {**context, "invalid": True}, status=400)
    data = form.cleaned_data
    wants_csv = request.GET.get("format") == "csv"
    if kind == "sales":
        rows = selectors.sales_report(
            user=request.user, group_by=data["group_by"], period=data["period"], store=data["store_obj"]
        )
        if wants_csv:
            fields = ["key", "name", "quantity", "gross", "discounts", "net", "tax", "cost", "margin"]
            return _csv(f"sales-by-{data['group_by']}", fields, ([r[f] for f in fields] for r in rows))
        context.update(
            rows=rows,
            totals=selectors.totals(rows, ["quantity", "gross", "discounts", "net", "tax", "cost", "margin"]),
            chart=charts.bars(
                items=[(r["key"], r["gross"]) for r in rows],
                limit=31 if data["group_by"] == "day" else 20,
            ),
        )
    elif kind == "tax":
        rows = selectors.tax_report(user=request.user, period=data["period"], store=data["store_obj"])
        if wants_csv:
            return _csv(
                "tax",
                ["rate", "net", "tax", "gross"],
                ([r["rate"], r["net"], r["tax"], r["gross"]] for r in rows),
            )
        context.update(rows=rows, totals=selectors.totals(rows, ["net", "tax", "gross"]))
    else:
        levels = list(selectors.stock_value_report(user=request.user, store=data["store_obj"]))
        if wants_csv:
            return _csv(
                "stock-value",
                ["store", "sku", "name", "quantity", "cost", "value"],
                (
                    [lv.store.name, lv.product.sku, lv.product.name, lv.quantity, lv.product.cost, lv.value]
                    for lv in levels
                ),
            )
        context.update(
            levels=levels,
            total_quantity=sum(lv.quantity for lv in levels),
            total_value=sum((lv.value for lv in levels), selectors.ZERO),
        )
    return render(request, "web/reports.html", context)
