"""Kassa's settings with one more route, `/slow/`, that outlives the web server's timeout."""

from kassa.settings import *  # noqa: F403

ROOT_URLCONF = "tests.auditlog.slow_urls"
