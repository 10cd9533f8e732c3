"""Django's Redis cache with one client object per connection pool, and reaching the master
through Redis Sentinel (settings REDIS_SENTINELS).

Django's client builds a new `redis.Redis` for every command (its response callbacks, a dict of
some 170 entries, each time: ~0.1 ms of CPU a request for the throttle alone); a client object
is only a view of its pool and safe to share between threads, so one per pool is kept.

Sessions, throttling and sign-in counters, idempotency locks and the beat's leader lock all go
through this cache. Every command goes to the master the Sentinels name: after a failover a
connection to the old master fails once (or answers READONLY, which redis-py turns into a
connection error) and the next command asks the Sentinels again (with Sentinel).

The throttle's count, sent by every API request, goes through `cache_round_trip` instead: on a
connection of the thread's own, without the client's and the pool's machinery around it.
"""

import os
import threading
from urllib.parse import urlparse

import redis
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class PooledCacheClient(RedisCacheClient):
    """One `redis.Redis` per connection pool, made on first use."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class KassaRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = PooledCacheClient


class SentinelCacheClient(PooledCacheClient):
    def __init__(self, servers, master_name: str, sentinel_timeout: float = 0.5, **options):
        super().__init__(servers, **options)
        from redis.sentinel import Sentinel

        first = urlparse(servers[0])
        self._db = int(first.path.strip("/") or 0)
        nodes = [(urlparse(server).hostname, urlparse(server).port or 26379) for server in servers]
        self._sentinel = Sentinel(nodes, socket_timeout=sentinel_timeout)
        self._master_name = master_name

    def _get_connection_pool(self, write):
        # One pool for reads and writes: replicas lag, and a read after a write must see it.
        if 0 not in self._pools:
            from redis.sentinel import SentinelConnectionPool

            self._pools[0] = SentinelConnectionPool(
                self._master_name, self._sentinel, db=self._db, **self._pool_options
            )
        return self._pools[0]


class SentinelRedisCache(RedisCache):
    """LOCATION: the Sentinels as `redis://host:port/db;...`; OPTIONS: `master_name`."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SentinelCacheClient


class _Own(threading.local):
    pool = None
    pid = 0
    connection = None


_own = _Own()


def _own_connection(pool):
    """This thread's connection made by `pool` (so its server, password, TLS and, with Sentinel,
    its master are the pool's); a new one for another pool or in a forked child, which leaves
    the parent's socket alone."""
    if _own.connection is None or _own.pool is not pool or _own.pid != os.getpid():
        _own.connection, _own.pool, _own.pid = pool.make_connection(), pool, os.getpid()
    return _own.connection


def cache_round_trip(*, key: str, commands: list[tuple]) -> list:
    """Send `commands` to the cache's master in one round trip and answer their replies in order
    (an error reply raises), on this thread's own connection to the pool `key` maps to.

    For what every request sends: in a request, redis-py's client, pipeline and pool (checkout
    with its health poll, retries, response callbacks, metrics hooks) cost ~0.13 ms of CPU
    around the round trip itself (bench/RESULTS.md, twelfth pass). A broken connection (a
    restarted server, a failover) is sent the commands once more: it connects anew, with
    Sentinel to the master the Sentinels name now."""
    connection = _own_connection(cache._cache.get_client(key, write=True).connection_pool)
    try:
        return _exchange(connection, commands)
    except (redis.ConnectionError, redis.TimeoutError):
        return _exchange(connection, commands)


def _exchange(connection, commands: list[tuple]) -> list:
    try:
        if not connection.is_connected:
            # Not left to send_packed_command: its connect skips Sentinel's lookup of the master.
            connection.connect()
        connection.send_packed_command(connection.pack_commands(commands), check_health=False)
        return [connection.read_response() for _ in commands]
    except BaseException:
        connection.disconnect()  # no reply left unread for the next exchange
        raise
