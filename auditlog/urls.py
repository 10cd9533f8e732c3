from django.urls import path

from auditlog import apis

urlpatterns = [
    path("audit/access/", apis.AccessListApi.as_view(), name="audit-access"),
    path("audit/logins/", apis.SignInListApi.as_view(), name="audit-logins"),
    path("audit/changes/", apis.ChangeListApi.as_view(), name="audit-changes"),
    path("audit/api-calls/", apis.ApiCallListApi.as_view(), name="audit-api-calls"),
    path("audit/settings/", apis.AuditSettingsApi.as_view(), name="audit-settings"),
]
