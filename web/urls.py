from django.urls import path

from web import views

urlpatterns = [
    path("", views.audit_review, name="audit"),
    path("object/", views.audit_object, name="audit-object"),
    path("export/", views.audit_export, name="audit-export"),
]
