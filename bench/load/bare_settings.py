"""The bare baseline's settings: Kassa's, with only the URLconf and the middleware swapped.

Same database (the application role, so the tenant must still be selected: row-level security
is forced on every table), same Redis, same gunicorn settings. No audit, no token, no
throttle, no tenant lookup by host, no session or CSRF machinery.
"""

from kassa.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load.bare_urls"
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
