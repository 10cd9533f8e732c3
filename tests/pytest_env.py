"""Loaded by pytest before Django (`-p tests.pytest_env`): keep tests off `make run`'s Redis data.

Each xdist worker gets its own Celery queue and cache key prefix (set here, not inherited
from the controller), so tests that run side by side, and a `make run` on the same machine,
never take each other's tasks, sessions or counters. Each run gets its own test database.
"""

import os

run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:8]
worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
os.environ.setdefault("KASSA_REDIS_DB", "8")
# The test process is manage.py's (every role's connection) whose connections act as the
# application role; a test or a privileged service steps up with as_maintenance().
os.environ["KASSA_PROCESS"] = "manage"
os.environ["KASSA_DB_ACT_AS_APP"] = "true"
# Set once by the first process (the controller); its workers add their own suffix (_gw0, ...).
os.environ.setdefault("KASSA_TEST_DB_NAME", f"test_kassa_{run}")
os.environ["KASSA_CELERY_QUEUE"] = f"test-{run}-{worker}"
os.environ["KASSA_CACHE_PREFIX"] = f"test-{run}-{worker}"
os.environ["KASSA_PRIVILEGED_QUEUE"] = f"test-{run}-{worker}-privileged"
