from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html

from accounts.admin_base import TenantModelAdmin
from accounts.permissions import EXPORT
from core.errors import DomainError
from exports import services
from exports.models import Export


@admin.register(Export)
class ExportAdmin(TenantModelAdmin):
    """ "Add export" starts one (the worker builds it); the list shows percent and the download."""

    view_permission = EXPORT
    change_permission = EXPORT
    list_display = ["created_at", "kind", "status", "percent", "requested_by", "expires_at", "download"]
    list_filter = ["kind", "status"]
    fields = ["kind"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(requested_by=request.user)

    def get_readonly_fields(self, request, obj=None):
        return ["kind"] if obj is not None else []

    @admin.display(description="progress")
    def percent(self, obj):
        return f"{obj.progress} %"

    @admin.display(description="download")
    def download(self, obj):
        if obj.status != Export.Status.DONE or services.export_is_expired(obj):
            return "—"
        return format_html('<a href="/admin/exports/export/{}/download/">ZIP</a>', obj.pk)

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            created = services.export_create(actor=request.user, kind=obj.kind)
        except DomainError as error:  # ExportError, or Forbidden without the export permission
            self.message_user(request, str(error), messages.ERROR)
            return
        obj.pk = created.pk
        self.message_user(request, "The export was started; this list shows its progress.")

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "<uuid:export_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="exports_export_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, export_id):
        from django.http import Http404, StreamingHttpResponse

        if not self.has_view_permission(request):
            raise Http404("No such export.")
        export = self.get_queryset(request).filter(pk=export_id).first()
        if export is None or export.status != Export.Status.DONE or services.export_is_expired(export):
            raise Http404("No such export.")
        try:
            services.export_kind_check(actor=request.user, kind=export.kind)
        except DomainError as error:
            raise PermissionDenied(str(error)) from None
        response = StreamingHttpResponse(
            services.export_open(tenant=request.tenant, export=export), content_type="application/zip"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="kassa-{request.tenant.slug}-{export.kind}.zip"'
        )
        response["Cache-Control"] = "no-store"
        return response
