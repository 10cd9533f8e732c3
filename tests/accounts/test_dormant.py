import time_machine
from django.utils import timezone

from accounts.models import User
from accounts.tasks import users_deactivate_dormant_task
from tests.conftest import transactional


@transactional
def test_the_dormant_task_disables_unused_accounts_in_every_tenant(
    cast_a, tenant_b, as_tenant, celery_worker
):
    with as_tenant(cast_a["owner"].tenant):
        User.objects.filter(username="cody").update(last_login=timezone.now() - timezone.timedelta(days=91))
        User.objects.filter(username="sam").update(last_login=timezone.now() - timezone.timedelta(days=10))
    with as_tenant(tenant_b):
        User.objects.filter(username="bob").update(
            last_login=None, date_joined=timezone.now() - timezone.timedelta(days=100)
        )
    assert users_deactivate_dormant_task.delay().get(timeout=60) == 2
    with as_tenant(cast_a["owner"].tenant):
        assert set(User.objects.filter(is_active=False).values_list("username", flat=True)) == {"cody"}
    with as_tenant(tenant_b):
        assert not User.objects.get(username="bob").is_active
    assert users_deactivate_dormant_task.delay().get(timeout=60) == 0  # a second run changes nothing


def test_recent_users_stay_active(cast_a, as_tenant):
    from accounts.services import users_deactivate_dormant

    with as_tenant(cast_a["owner"].tenant), time_machine.travel(timezone.now() + timezone.timedelta(days=30)):
        assert users_deactivate_dormant() == 0
