from django.urls import path

from lifecycle import apis

urlpatterns = [
    path("backups/", apis.BackupListCreateApi.as_view(), name="backups"),
    path("restore-drills/", apis.RestoreDrillListApi.as_view(), name="restore-drills"),
    path("termination/", apis.TerminationApi.as_view(), name="termination"),
    path("purge-certificate/", apis.PurgeCertificateClaimApi.as_view(), name="purge-certificate"),
]
