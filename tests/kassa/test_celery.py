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
