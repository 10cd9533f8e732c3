"""Loaded by pytest before Django (`-p kassa.pytest_env`): keep tests off `make run`'s Redis data.

Each xdist worker gets its own Celery queue and cache prefix, so tests that run side by side
(and a `make run` on the same machine) never take each other's tasks or counters.
"""

import os

run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:8]
worker = f"{run}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
# Two test runs at once (two developers, or a developer and CI) get two test databases.
os.environ.setdefault("KASSA_TEST_DB_NAME", f"test_kassa_{run}")
os.environ.setdefault("KASSA_REDIS_DB", "8")
os.environ.setdefault("KASSA_CELERY_QUEUE", f"test-{worker}")
os.environ.setdefault("KASSA_CACHE_PREFIX", f"test-{worker}")
