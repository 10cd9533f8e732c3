from accounts.models import User
from kassa.demo import demo_seed
from tenants.models import Tenant


def test_demo_seed_creates_once_and_keeps_the_data(db, settings, tmp_path, as_tenant):
    settings.VAR_DIR = tmp_path
    credentials, created = demo_seed()
    assert created
    assert (tmp_path / "demo-credentials.json").stat().st_mode & 0o777 == 0o600
    again, created_again = demo_seed()
    assert not created_again
    assert again == credentials
    assert Tenant.objects.filter(slug="demo").count() == 1
    with as_tenant(Tenant.objects.get(slug="demo")):
        assert User.objects.get(username="owner").check_password(credentials["password"])


def test_a_lost_credentials_file_gives_the_demo_owner_a_new_password(db, settings, tmp_path, as_tenant):
    settings.VAR_DIR = tmp_path
    first, _ = demo_seed()
    (tmp_path / "demo-credentials.json").unlink()
    second, created = demo_seed()
    assert not created
    assert second["password"] != first["password"]
    with as_tenant(Tenant.objects.get(slug="demo")):
        assert User.objects.get(username="owner").check_password(second["password"])
