import pytest

from kassa.celery import ping_task


def test_a_real_worker_answers_the_ping_task(celery_worker):
    assert ping_task.delay().get(timeout=30) == "pong"


def test_tasks_are_acknowledged_late_and_rejected_when_the_worker_dies(settings):
    from kassa.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_the_privileged_worker_takes_only_privileged_tasks_and_the_worker_only_ordinary_ones(
    django_db_setup, django_db_blocker
):
    """Two real workers, each consuming its own queue: no task reaches both, nor the wrong one."""
    import time

    from django.conf import settings

    from kassa.celery import worker_name_task
    from tests.conftest import start_worker, stop_worker

    privileged = settings.KASSA_PRIVILEGED_QUEUE
    process, name = start_worker(privileged=True, prefix="privileged")
    try:
        ordinary = worker_name_task.delay()  # the default queue, as every unlisted task
        routed = worker_name_task.apply_async(queue=privileged, exchange=privileged, routing_key=privileged)
        assert routed.get(timeout=30) == name
        time.sleep(2)
        assert not ordinary.ready(), "the privileged worker took an ordinary task"
        plain, plain_name = start_worker()
        try:
            assert ordinary.get(timeout=30) == plain_name
            again = worker_name_task.apply_async(
                queue=privileged, exchange=privileged, routing_key=privileged
            )
            assert again.get(timeout=30) == name
            assert worker_name_task.delay().get(timeout=30) == plain_name
        finally:
            stop_worker(plain)
    finally:
        stop_worker(process)


def _other_backends(cursor) -> set[int]:
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return {pid for (pid,) in cursor.fetchall()}


def test_a_worker_keeps_its_database_connection_from_task_to_task(celery_worker, django_db_blocker):
    """Celery's Django fixup would close it around every task: a new PostgreSQL backend per task.

    The worker keeps one across tasks, as a web worker across requests (CONN_MAX_AGE)."""
    from django.db import connection

    from integrations.tasks import deliveries_sweep_task

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        before = _other_backends(cursor)
        # No tenant has a webhook: the task reads the tenants table and returns 0.
        assert deliveries_sweep_task.delay().get(timeout=30) == 0
        first = _other_backends(cursor) - before
        for _ in range(5):
            assert deliveries_sweep_task.delay().get(timeout=30) == 0
        later = _other_backends(cursor) - before
    assert len(first) == 1, f"the worker's connection after its first task: {first}"
    assert later == first, "the worker opened another connection for a later task"


def _nice_of_every_thread(pid: int) -> dict[str, int]:
    """The nice value of each thread of `pid` and of its children (Linux keeps one per thread)."""
    from pathlib import Path

    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
        found[f"{pid}/{task.name}"] = int(stat[16])  # field 19 of stat: nice
        for child in (task / "children").read_text().split():
            found.update(_nice_of_every_thread(int(child)))
    return found


@pytest.mark.parametrize(("setting", "wanted"), [(None, 10), ("0", 0)])
def test_a_worker_yields_the_cpu_to_the_web_unless_told_not_to(django_db_setup, setting, wanted):
    """Every thread of a real worker and of its pool runs at KASSA_WORKER_NICE (10 unless set):
    on a machine the worker shares with the web, a till's sale is scheduled first. A worker
    started at a lower priority keeps it (the tests' own, from which the worker starts)."""
    import os

    from tests.conftest import start_worker, stop_worker

    expected = max(wanted, os.getpriority(os.PRIO_PROCESS, 0))
    process, _ = start_worker({"KASSA_WORKER_NICE": setting} if setting is not None else {})
    try:
        nice = _nice_of_every_thread(process.pid)
    finally:
        stop_worker(process)
    assert len({key.split("/")[0] for key in nice}) >= 2, nice  # the worker and its pool process
    assert set(nice.values()) == {expected}, nice
