"""The throttle's round trip on a connection of the thread's own (core.cache.cache_round_trip),
against the real Redis: it follows a broken connection, never reads another exchange's reply,
and a forked process does not share its parent's socket."""

import json
import os
import time
import uuid

import pytest
import redis
from django.core.cache import cache

from core import cache as kassa_cache
from core.throttling import budget_count


@pytest.fixture(autouse=True)
def _no_keys_left():
    yield
    client = cache._cache.get_client(write=True)
    client.delete(*client.keys(cache.make_and_validate_key("test:round-trip:*")) or ["-"])


def _key() -> str:
    return cache.make_and_validate_key(f"test:round-trip:{uuid.uuid4()}")


def _own_client_id(key: str) -> int:
    (client_id,) = kassa_cache.cache_round_trip(key=key, commands=[("CLIENT", "ID")])
    return client_id


def test_the_count_carries_on_when_its_connection_is_killed(settings):
    settings.KASSA_API_RATE = "100/minute"
    key = f"test:round-trip:throttle:{uuid.uuid4()}"
    assert budget_count(key, time.time()).remaining == 99
    client = cache._cache.get_client(key, write=True)
    before = _own_client_id(_key())
    assert client.client_kill_filter(_id=before) == 1  # the server drops the throttle's connection
    assert budget_count(key, time.time()).remaining == 98  # counted once more, on a new connection
    assert _own_client_id(_key()) != before


def test_a_refused_command_leaves_no_reply_for_the_next_exchange():
    key = _key()
    client = cache._cache.get_client(key, write=True)
    client.rpush(key, "not a counter")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        kassa_cache.cache_round_trip(key=key, commands=[("INCR", key), ("EXPIRE", key, 60), ("GET", key)])
    client.delete(key)
    # The refused exchange's EXPIRE and GET replies were never read; they must not answer this one.
    assert kassa_cache.cache_round_trip(key=key, commands=[("INCR", key), ("GET", key)]) == [1, b"1"]


def test_a_forked_process_counts_on_a_connection_of_its_own():
    key = _key()
    kassa_cache.cache_round_trip(key=key, commands=[("PING",)])  # the parent's connection exists
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            counts = [kassa_cache.cache_round_trip(key=key, commands=[("INCR", key)])[0] for _ in range(200)]
            os.write(writer, json.dumps(counts).encode())
        finally:
            os._exit(0)
    os.close(writer)
    parent = [kassa_cache.cache_round_trip(key=key, commands=[("INCR", key)])[0] for _ in range(200)]
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        counted = json.loads(pipe.read() or "[]")
    # On one socket the two would read each other's replies (or fail): each count is seen once.
    assert sorted(parent + counted) == list(range(1, 401))
    assert kassa_cache.cache_round_trip(key=key, commands=[("GET", key)]) == [b"400"]
