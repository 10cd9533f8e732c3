import os
import sys

from core.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
os.environ.setdefault("KASSA_PROCESS", "web")
try:
    # Django's handler, with bearer-token API requests on a shorter stack (core/stack.py).
    from core.stack import get_wsgi_application

    application = get_wsgi_application()
    from django.conf import settings

    if settings.KASSA_PROCESS == "web":  # the tests load it in-process with their own settings
        from tenants.roles import startup_check

        startup_check()
except ConfigError as error:
    sys.stderr.write(f"kassa: configuration error: {error}\n")
    sys.exit(3)
