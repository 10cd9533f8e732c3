from kassa.celery import ping_task


def test_a_real_worker_answers_the_ping_task(celery_worker):
    assert ping_task.delay().get(timeout=30) == "pong"


def test_tasks_are_acknowledged_late_and_rejected_when_the_worker_dies(settings):
    from kassa.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
