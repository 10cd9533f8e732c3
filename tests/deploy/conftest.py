import os
import subprocess
import sys

import pytest
from django.db import connections

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def collected_static():
    """The nodes serve static files as in production: collected, with a manifest."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )


@pytest.fixture
def stack_env(collected_static):
    """A web node's or worker's environment: this run's settings, on the test database."""
    return {**os.environ, "KASSA_DB_NAME": connections["default"].settings_dict["NAME"]}
