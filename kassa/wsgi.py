import os
import sys

from core.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
try:
    # Django's handler, with bearer-token API requests on a shorter stack (core/stack.py).
    from core.stack import get_wsgi_application

    application = get_wsgi_application()
except ConfigError as error:
    sys.stderr.write(f"kassa: configuration error: {error}\n")
    sys.exit(3)
