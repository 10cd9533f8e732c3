"""`make bench-load`: Kassa as deployed (gunicorn, Celery, PostgreSQL, Redis) under a realistic
load from this machine, against a bare DRF baseline served the same way in the same run.

See bench/RESULTS.md for the figures and run.py for what is measured.
"""
