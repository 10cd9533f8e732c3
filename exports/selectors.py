from uuid import UUID

from django.db.models import QuerySet
from django.utils.translation import gettext

from core.errors import NotFound
from exports.models import Export


def export_list(*, user) -> QuerySet[Export]:
    """The user's own exports: an export is downloadable by its requester only."""
    return Export.objects.filter(requested_by=user)


def export_get(*, user, export_id: UUID) -> Export:
    """The user's export; a missing id, another user's and another tenant's answer alike."""
    export = export_list(user=user).filter(pk=export_id).first()
    if export is None:
        raise NotFound(gettext("No such export."))
    return export
