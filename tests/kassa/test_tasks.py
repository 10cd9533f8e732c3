from django.utils import timezone

from idempotency.models import IdempotencyRecord
from idempotency.tasks import idempotency_records_expire_task
from tests.conftest import transactional


@transactional
def test_expired_idempotency_records_are_deleted_by_the_worker(
    cast_a, api, stores_a, as_tenant, celery_worker
):
    client = api(cast_a["owner"])
    response = client.post("/api/v1/stores/", {"name": "Pier"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201
    with as_tenant(cast_a["owner"].tenant):
        assert IdempotencyRecord.objects.count() == 1
    assert idempotency_records_expire_task.delay().get(timeout=60) == 0  # not yet expired
    with as_tenant(cast_a["owner"].tenant):
        IdempotencyRecord.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    assert idempotency_records_expire_task.delay().get(timeout=60) == 1
    with as_tenant(cast_a["owner"].tenant):
        assert not IdempotencyRecord.objects.exists()
