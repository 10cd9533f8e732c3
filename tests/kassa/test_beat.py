"""One beat: two real beat processes send each schedule slot once, and the standby takes over.

The heartbeat schedule runs every second here; a real worker runs what is sent, and each run
records its slot (kassa.beat_heartbeat_task). The leader is killed with -9 half-way.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from celery.schedules import crontab, schedule
from django.core.cache import cache
from django.db import connections

from kassa.beat import lock_key, runs_key, slot_claim, slot_of
from kassa.models import ScheduleClaim
from tests.conftest import ROOT, start_worker, stop_worker, transactional


def beat(tmp_path, index: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "kassa", "beat", "--loglevel", "WARNING",
         "--schedule", str(tmp_path / f"beat{index}-schedule"), "--pidfile", str(tmp_path / f"beat{index}.pid")],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def runs() -> list[str]:
    return [value.decode() for value in reversed(cache._cache.get_client().lrange(runs_key(), 0, -1))]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@transactional
def test_two_beats_never_run_one_schedule_twice_and_the_standby_takes_over(tmp_path):
    env = {
        **os.environ,
        "KASSA_DB_NAME": connections["default"].settings_dict["NAME"],
        "KASSA_BEAT_HEARTBEAT_SECONDS": "1",
        "KASSA_BEAT_LOCK_SECONDS": "3",
    }
    worker, _ = start_worker(env, pool="solo", prefix="beat")
    beats = [beat(tmp_path, 1, env), beat(tmp_path, 2, env)]
    try:
        wait_for(lambda: len(runs()) >= 4, 90, "four heartbeats")
        holder = cache._cache.get_client().get(lock_key()).decode()
        leader = next(b for b in beats if f":{b.pid}:" in holder)
        standby = next(b for b in beats if b is not leader)
        os.killpg(leader.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        before = len(runs())
        wait_for(lambda: len(runs()) >= before + 4, 60, "the standby to take over")
        took_over = time.monotonic() - killed_at
    finally:
        for process in beats:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        time.sleep(1.5)  # let the worker run what was sent last
        stop_worker(worker)

    ran = runs()
    assert len(ran) == len(set(ran))  # no slot ran twice
    assert all(run.startswith("beat:beat-heartbeat:") for run in ran)
    claims = ScheduleClaim.objects.filter(name="beat-heartbeat")
    assert {f"beat:beat-heartbeat:{c.slot}" for c in claims} >= set(ran)
    holders = {c.claimed_by.split(":")[1] for c in claims}
    assert holders == {str(leader.pid), str(standby.pid)}  # each sent while it led, never both at once
    assert took_over < 3 + 2 + 10  # the lock's lifetime, a tick, and slack for a busy machine


def test_a_slot_is_the_interval_it_is_due_for_or_the_minute_of_a_crontab():
    at = datetime(2026, 3, 1, 2, 0, 59, 900000, tzinfo=UTC)
    assert slot_of(schedule(3600.0), at) == "2026-03-01T02:00:00"
    assert slot_of(schedule(300.0), at.replace(minute=7)) == "2026-03-01T02:05:00"
    assert slot_of(crontab(hour=2, minute=0), at) == "2026-03-01T02:00"
    # A standby catching up at 14:10 on the 02:00 run finds the slot the leader already took.
    assert slot_of(crontab(hour=2, minute=0), at.replace(hour=14, minute=10)) == "2026-03-01T02:00"
    assert slot_of(crontab(hour=4, minute=30), at) == "2026-02-28T04:30"
    assert slot_of(crontab(minute=0, hour=5, day_of_week="sun"), at) == "2026-02-22T05:00"  # a Sunday


@pytest.mark.django_db
def test_a_slot_is_claimed_once():
    assert slot_claim("audit-seal", "2026-03-01T02:00:00", "a:1:x") is True
    assert slot_claim("audit-seal", "2026-03-01T02:00:00", "b:2:y") is False
    assert slot_claim("audit-seal", "2026-03-01T02:05:00", "b:2:y") is True
    assert list(ScheduleClaim.objects.order_by("slot").values_list("claimed_by", flat=True)) == [
        "a:1:x",
        "b:2:y",
    ]
