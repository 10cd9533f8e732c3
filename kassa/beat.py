"""One beat: a leader lock in Redis, and a claim in PostgreSQL for every schedule slot.

Any number of beat processes may run (one per host); the one holding the lock
`<prefix>:beat:leader` (SET NX PX, renewed every tick) sends, the others check again every
tick and take over within KASSA_BEAT_LOCK_SECONDS of the leader's death. The lock alone is not
enough — Redis may lose it in a failover, and a paused leader may wake after its lock expired —
so before a task is sent its slot (the interval it is due for: `floor(now / every)` for an
interval schedule, the minute for a crontab) is claimed with an INSERT that a second claim of
the same slot cannot repeat (kassa.models.ScheduleClaim). A slot is sent once or not at all:
with no database the beat sends nothing. The tasks themselves are idempotent as well, as every
task (they are acknowledged late, so a worker's death runs them again).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

from celery.beat import PersistentScheduler
from celery.schedules import crontab
from celery.schedules import schedule as interval_schedule
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, close_old_connections, connection

log = logging.getLogger(__name__)

CLAIM_SQL = (
    "INSERT INTO kassa_scheduleclaim (name, slot, claimed_by, claimed_at) VALUES (%s, %s, %s, now()) "
    "ON CONFLICT (name, slot) DO NOTHING RETURNING 1"
)
PRUNE_SQL = "DELETE FROM kassa_scheduleclaim WHERE claimed_at < now() - interval '7 days'"
RELEASE_SQL = "DELETE FROM kassa_scheduleclaim WHERE name = %s AND slot = %s AND claimed_by = %s"
CRONTAB_LOOKBACK_MINUTES = 31 * 24 * 60
# Renew only our own lock (another beat's must stay untouched).
RENEW_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


def lock_key() -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:beat:leader"


def runs_key() -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:beat:runs"


def slot_of(entry_schedule, now: datetime) -> str:
    """The slot a send at `now` belongs to; two sends in one slot are one too many.

    An interval schedule's slot is the aligned window it is due in (`floor(now / every)`); a
    crontab's is its latest scheduled minute at or before `now`, so a standby that takes over
    and catches up on a crontab the old leader already sent finds that slot taken.
    """
    if isinstance(entry_schedule, interval_schedule):
        every = max(entry_schedule.run_every.total_seconds(), 1.0)
        start = int(now.timestamp() // every * every)
        return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    if isinstance(entry_schedule, crontab):
        for _ in range(CRONTAB_LOOKBACK_MINUTES):
            if _crontab_matches(entry_schedule, minute):
                break
            minute -= timedelta(minutes=1)
    return minute.strftime("%Y-%m-%dT%H:%M")


def _crontab_matches(entry_schedule: crontab, at: datetime) -> bool:
    return (
        at.minute in entry_schedule.minute
        and at.hour in entry_schedule.hour
        and (at.isoweekday() % 7) in entry_schedule.day_of_week  # crontab counts Sunday as 0
        and at.day in entry_schedule.day_of_month
        and at.month in entry_schedule.month_of_year
    )


def slot_claim(name: str, slot: str, holder: str) -> bool:
    """True when this beat may send `name` for `slot` (nobody did); False also without a database."""
    for attempt in (1, 2):
        if not connection.in_atomic_block:
            close_old_connections()  # CONN_HEALTH_CHECKS: a connection broken by a failover goes
        try:
            with connection.cursor() as cursor:
                cursor.execute(CLAIM_SQL, [name, slot, holder])
                return cursor.fetchone() is not None
        except DatabaseError as error:
            connection.close()  # a failover broke it: the next connection finds the new primary
            if attempt == 2:
                log.error("beat: cannot claim %s @ %s, not sending: %s", name, slot, error.__class__.__name__)
    return False


class LeaderScheduler(PersistentScheduler):
    def __init__(self, *args, **kwargs):
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lock_ms = settings.KASSA_BEAT_LOCK_SECONDS * 1000
        self.leading = False
        self._pruned_at = float("-inf")
        super().__init__(*args, **kwargs)

    def _redis(self):
        return cache._cache.get_client(write=True)

    def lead(self) -> bool:
        """Take or renew the lock; False: another beat leads (or Redis does not answer)."""
        try:
            client = self._redis()
            if self.leading and client.eval(RENEW_LUA, 1, lock_key(), self.holder, self.lock_ms):
                return True
            leading = bool(client.set(lock_key(), self.holder, nx=True, px=self.lock_ms))
        except Exception as error:
            log.warning("beat: Redis unavailable, standing by: %s", error.__class__.__name__)
            leading = False
        if leading != self.leading:
            log.warning("beat %s: %s", self.holder, "leading" if leading else "standing by")
        self.leading = leading
        return leading

    def tick(self, *args, **kwargs):
        standby = max(1.0, settings.KASSA_BEAT_LOCK_SECONDS / 3)
        if not self.lead():
            return standby
        if time.monotonic() - self._pruned_at > 3600:
            self._pruned_at = time.monotonic()
            try:
                with connection.cursor() as cursor:
                    cursor.execute(PRUNE_SQL)
            except DatabaseError:
                connection.close()
        return min(super().tick(*args, **kwargs), standby)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        slot = slot_of(entry.schedule, datetime.now(UTC))
        if not self.leading or not slot_claim(entry.name, slot, self.holder):
            log.info("beat: %s @ %s already sent, skipped", entry.name, slot)
            return self.reserve(entry) if advance else entry  # counts as handled: due again next slot
        entry.options = {**entry.options, "task_id": f"beat:{entry.name}:{slot}"}
        try:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        except Exception:
            # Not sent (the broker is failing over): free the slot, so the next tick sends it.
            try:
                with connection.cursor() as cursor:
                    cursor.execute(RELEASE_SQL, [entry.name, slot, self.holder])
            except DatabaseError:
                connection.close()
            raise
