import os
import sys

from django.core.wsgi import get_wsgi_application

from core.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
try:
    application = get_wsgi_application()
except ConfigError as error:
    sys.stderr.write(f"kassa: configuration error: {error}\n")
    sys.exit(3)
