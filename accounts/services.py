from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from tenants.context import require_tenant_id


@transaction.atomic
def user_create(*, username: str, password: str, must_change_password: bool = True, **fields) -> User:
    """Create a user of the current tenant; the password must pass the policy."""
    user = User(
        tenant_id=require_tenant_id(), username=username, must_change_password=must_change_password, **fields
    )
    validate_password(password, user)
    user.set_password(password)
    user.password_changed_at = timezone.now()
    user.save()
    return user
