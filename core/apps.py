from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    """The shared kernel: error shape, pagination, throttling, headers, storage, observability."""

    name = "core"

    def ready(self):
        if not (settings.REDIS_URL or settings.REDIS_SENTINELS):  # else the embedded Redis
            from core import embedded

            embedded.ensure_redis()
