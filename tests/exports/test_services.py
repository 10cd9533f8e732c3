"""The exports service: refusals as domain errors, enqueueing on commit, the command through it."""

import pytest

from core.api import exception_handler
from core.errors import Forbidden
from exports import services
from exports.errors import ExportError
from exports.models import Export
from tenants.context import tenant_context


def test_export_create_refuses_with_domain_errors_the_handler_maps(cast_a, tenant_a):
    with tenant_context(tenant_a):
        with pytest.raises(Forbidden) as forbidden:
            services.export_create(actor=cast_a["store_manager"], kind="full")
        with pytest.raises(ExportError) as invalid:
            services.export_create(actor=cast_a["owner"], kind="everything")
        assert not Export.objects.exists()

    answer = exception_handler(forbidden.value, {})
    assert answer.status_code == 403
    assert answer.data == {"code": "permission_denied", "detail": "You may not export the chain's data."}
    answer = exception_handler(invalid.value, {})
    assert answer.status_code == 400 and answer.data["code"] == "invalid"
