"""Django's Redis cache with one client object per connection pool, and reaching the master
through Redis Sentinel (settings REDIS_SENTINELS).

Django's client builds a new `redis.Redis` for every command (its response callbacks, a dict of
some 170 entries, each time: ~0.1 ms of CPU a request for the throttle alone); a client object
is only a view of its pool and safe to share between threads, so one per pool is kept.

Sessions, throttling and sign-in counters, idempotency locks and the beat's leader lock all go
through this cache. Every command goes to the master the Sentinels name: after a failover a
connection to the old master fails once (or answers READONLY, which redis-py turns into a
connection error) and the next command asks the Sentinels again (with Sentinel).
"""

from urllib.parse import urlparse

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
