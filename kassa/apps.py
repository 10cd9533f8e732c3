from django.apps import AppConfig
from django.conf import settings


class KassaConfig(AppConfig):
    name = "kassa"

    def ready(self):
        from kassa import checks  # noqa: F401 - registers the system checks

        if not settings.REDIS_URL:
            from kassa import embedded

            embedded.ensure_redis()
