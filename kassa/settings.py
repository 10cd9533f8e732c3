"""Kassa settings: one module, read from the environment (see README, "Configuration")."""

import os
import secrets
from pathlib import Path
from urllib.parse import unquote

import environ
from celery.schedules import crontab
from kombu import Exchange, Queue

from core import embedded
from core.env import ConfigError, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.var_dir()

KASSA_ENV = env_str("KASSA_ENV", "dev")
if KASSA_ENV not in ("dev", "production"):
    raise ConfigError(f"KASSA_ENV={KASSA_ENV!r} must be dev or production")
PRODUCTION = KASSA_ENV == "production"
DEBUG = env_bool("KASSA_DEBUG", False)
KASSA_HTTPS = env_bool("KASSA_HTTPS", True)


def _dev_secret(name: str, make) -> str:
    """Read or create a development-only secret under var/ (mode 0600)."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


DEV_SECRET_PREFIX = "kassa-dev-"  # nosec B105 - marks generated development keys
SECRET_KEY = env_str("KASSA_SECRET_KEY")
KASSA_MASTER_KEY = env_str("KASSA_MASTER_KEY")
KASSA_MASTER_KEY_PREVIOUS = env_str("KASSA_MASTER_KEY_PREVIOUS")
KASSA_KMS_KEY_ID = env_str("KASSA_KMS_KEY_ID")
KASSA_KMS_REGION = env_str("KASSA_KMS_REGION")  # default: boto3's (AWS_REGION)
KASSA_KMS_ENDPOINT_URL = env_str("KASSA_KMS_ENDPOINT_URL")  # a KMS-compatible endpoint; unset for AWS
# An HMAC_256 KMS key for the audit seals; without it they are keyed from the master key.
KASSA_SEAL_KMS_KEY_ID = env_str("KASSA_SEAL_KMS_KEY_ID")
if PRODUCTION:
    if not SECRET_KEY:
        raise ConfigError("KASSA_SECRET_KEY is required in production")
    if SECRET_KEY.startswith((DEV_SECRET_PREFIX, "django-insecure")) or len(SECRET_KEY) < 50:
        raise ConfigError("KASSA_SECRET_KEY is a default or short key; use 50+ random characters")
    if not (KASSA_MASTER_KEY or KASSA_KMS_KEY_ID):
        raise ConfigError("KASSA_MASTER_KEY (or KASSA_KMS_KEY_ID) is required in production")
    if KASSA_KMS_KEY_ID and not (KASSA_MASTER_KEY or KASSA_SEAL_KMS_KEY_ID):
        raise ConfigError(
            "KASSA_SEAL_KMS_KEY_ID (an HMAC_256 KMS key for the audit seals) is required with KMS"
        )
    if DEBUG:
        raise ConfigError("KASSA_DEBUG must be off in production")
    if not KASSA_HTTPS:
        raise ConfigError("KASSA_HTTPS=false (plain HTTP) is refused in production")
if not SECRET_KEY:
    SECRET_KEY = _dev_secret("secret.key", lambda: DEV_SECRET_PREFIX + secrets.token_urlsafe(48))
if not (KASSA_MASTER_KEY or KASSA_KMS_KEY_ID):
    KASSA_MASTER_KEY_FILE = VAR_DIR / "master.key"

KASSA_BASE_DOMAIN = env_str("KASSA_BASE_DOMAIN", "localhost")
KASSA_REGION = env_str("KASSA_REGION", "local")
KASSA_STORAGE_URL = env_str("KASSA_STORAGE_URL", f"file://{VAR_DIR / 'storage'}")
# Other regions' storage (a purge reaches every copy): KASSA_STORAGE_URL_<REGION>=url.
KASSA_STORAGE_URLS = {
    name.removeprefix("KASSA_STORAGE_URL_").lower().replace("_", "-"): url
    for name, url in environ.Env.ENVIRON.items()
    if name.startswith("KASSA_STORAGE_URL_") and url
}
KASSA_S3_ENDPOINT_URL = env_str("KASSA_S3_ENDPOINT_URL")  # an S3-compatible server; unset for AWS
KASSA_S3_SSE = env_str("KASSA_S3_SSE", "AES256")  # server-side encryption on top of ours: AES256 or aws:kms
KASSA_S3_KMS_KEY_ID = env_str("KASSA_S3_KMS_KEY_ID")
# Days an audit anchor is locked (S3 Object Lock, compliance mode; the bucket must have it on).
KASSA_S3_OBJECT_LOCK_DAYS = env_int("KASSA_S3_OBJECT_LOCK_DAYS", 0)
KASSA_BACKUP_KEEP_DAILY = env_int("KASSA_BACKUP_KEEP_DAILY", 30)
KASSA_BACKUP_KEEP_MONTHLY = env_int("KASSA_BACKUP_KEEP_MONTHLY", 12)
# A drill refuses (and alerts on) a latest backup older than this; the admin shows it too.
KASSA_BACKUP_MAX_AGE_HOURS = env_int("KASSA_BACKUP_MAX_AGE_HOURS", 26)
# The weekly drill from storage alone (manage.py drill_from_storage): each step's time limit.
KASSA_STORAGE_DRILL_TIMEOUT = env_int("KASSA_STORAGE_DRILL_TIMEOUT", 3600)
# Backups a chain may ask for (POST /api/v1/backups/), per tenant.
KASSA_BACKUP_REQUEST_RATE = env_str("KASSA_BACKUP_REQUEST_RATE", "6/hour")
KASSA_TERMINATION_GRACE_DAYS = env_int("KASSA_TERMINATION_GRACE_DAYS", 30)
# Attempts to fetch a purge certificate with its claim token, per client address.
KASSA_CERTIFICATE_CLAIM_RATE = env_str("KASSA_CERTIFICATE_CLAIM_RATE", "10/hour")
KASSA_EXPORT_DAYS = env_int("KASSA_EXPORT_DAYS", 7)  # how long a finished export can be downloaded
# Where an export's ZIP is built before it is encrypted: one folder per tenant and job, emptied
# when the job starts (again, after a killed worker) and ends, and the tenant's removed by a purge.
KASSA_WORK_DIR = Path(env_str("KASSA_WORK_DIR", "")) if env_str("KASSA_WORK_DIR", "") else None
# A running export whose heartbeat is older than this lost its worker and may be claimed again.
KASSA_EXPORT_STALE_SECONDS = env_int("KASSA_EXPORT_STALE_SECONDS", 120)
# Entity CSVs up to this many rows stream straight from the API; larger ones become export jobs.
KASSA_EXPORT_STREAM_MAX_ROWS = env_int("KASSA_EXPORT_STREAM_MAX_ROWS", 100_000)
# Tests only: a pause per backup block, so a worker can be killed in the middle of a backup.
KASSA_BACKUP_BLOCK_PAUSE_MS = env_int("KASSA_BACKUP_BLOCK_PAUSE_MS", 0)
KASSA_TRUSTED_PROXIES = env_list("KASSA_TRUSTED_PROXIES")
# Hosts that reach the platform (no tenant) besides the base domain itself.
KASSA_PLATFORM_HOSTS = [KASSA_BASE_DOMAIN, *env_list("KASSA_PLATFORM_HOSTS", "127.0.0.1,[::1]")]

# The Host header is checked against the tenants' domains by tenants.middleware.
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "kassa.apps.KassaAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "pgtrigger",
    "pghistory",
    "kassa",
    "core",
    "tenants",
    "idempotency",
    "accounts",
    "auditlog",
    "integrations",
    "inventory",
    "backoffice",
    "lifecycle",
    "exports",
    "reports",
    "pos",
    "web",
]

MIDDLEWARE = [
    # First: every answer below is logged, the HTTP -> HTTPS redirect and errors included.
    "auditlog.middleware.AuditMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.headers.SecurityHeadersMiddleware",
    "core.throttling.RateLimitHeadersMiddleware",
    "core.observability.MetricsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.TenantMiddleware",
    "core.limits.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionPolicyMiddleware",
    "web.middleware.UserLanguageMiddleware",
    "web.middleware.TenantTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Layers a bearer-token API request skips (core/stack.py): it carries no cookie, so sessions,
# CSRF, messages, the session policy, the user's page language, clickjacking and static files
# have nothing to do for it. Every other request goes through all of MIDDLEWARE.
KASSA_BROWSER_ONLY_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionPolicyMiddleware",
    "web.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kassa.urls"
# The script name never comes from a client (a forwarded SCRIPT_NAME would change request.path
# while the route is read from path_info): Kassa is always served at the root.
FORCE_SCRIPT_NAME = ""
WSGI_APPLICATION = "kassa.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "kassa" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# --- Processes and databases. Each process holds the credentials of the roles it needs and no
# others (README "Processes", docs/architecture.md "Three database roles"):
#   web, worker, beat      the application role (RLS everywhere, platform tables read-only)
#   privileged-worker      the maintenance role, consuming only the privileged queue
#   manage                 the maintenance role and the owner (migrations); operators' commands
# manage.py, wsgi.py and the Celery app set their default; runstack, systemd and compose set it.
KASSA_PROCESS = env_str("KASSA_PROCESS", "web")
PROCESSES = ("web", "worker", "privileged-worker", "beat", "manage")
if KASSA_PROCESS not in PROCESSES:
    raise ConfigError(f"KASSA_PROCESS={KASSA_PROCESS!r} must be one of {', '.join(PROCESSES)}")
PRIVILEGED_PROCESS = KASSA_PROCESS in ("privileged-worker", "manage")
_APP_URL, _MAINTENANCE_URL, _OWNER_URL = "DATABASE_URL", "DATABASE_MAINTENANCE_URL", "DATABASE_OWNER_URL"


def _given(name: str) -> bool:
    return bool(os.environ.get(name) or os.environ.get(f"{name}_FILE"))


# Credentials a process does not need are not kept: not read, and not left in its environment.
_FORBIDDEN = {"manage": (), "privileged-worker": (_OWNER_URL,)}.get(
    KASSA_PROCESS, (_MAINTENANCE_URL, _OWNER_URL)
)
for _name in (n for f in _FORBIDDEN for n in (f, f"{f}_FILE")):
    if os.environ.get(_name):
        if PRODUCTION:
            raise ConfigError(f"{_name} must not be in the environment of a {KASSA_PROCESS} process")
        os.environ.pop(_name)
_EXTERNAL = any(_given(name) for name in (_APP_URL, _MAINTENANCE_URL, _OWNER_URL))
# The weekly drill from storage in beat (see CELERY_BEAT_SCHEDULE): embedded databases only, unless set.
KASSA_STORAGE_DRILL_BEAT = env_bool("KASSA_STORAGE_DRILL_BEAT", not _EXTERNAL)
_NEEDED = {"manage": (_MAINTENANCE_URL, _OWNER_URL), "privileged-worker": (_MAINTENANCE_URL,)}.get(
    KASSA_PROCESS, (_APP_URL,)
)
if _EXTERNAL:  # explicit: no role falls back to another's connection
    for _name in _NEEDED:
        if not _given(_name):
            raise ConfigError(
                f"{_name} is required for a {KASSA_PROCESS} process when the database is external"
            )


# A URL may name several hosts (`postgres://u@pg1:5432,pg2:5432/kassa?target_session_attrs=read-write`):
# libpq tries them in turn and keeps the primary, so a new connection follows a failover.
# KASSA_DB_TRANSACTION_POOLING: DATABASE_URL goes through PgBouncer in transaction mode, so
# nothing may outlive a transaction on a server connection (deploy/ha.md).
KASSA_DB_TRANSACTION_POOLING = env_bool("KASSA_DB_TRANSACTION_POOLING", False)


def _database(url: str | None, embedded_role: str, *, pooled: bool = False) -> dict:
    if url:
        config = environ.Env.db_url_config(url)
        # A socket directory as host (`postgres://u@%2Frun%2Fpostgresql/kassa`): environ leaves
        # a single host quoted (a list of hosts it unquotes).
        config["HOST"] = unquote(str(config.get("HOST") or ""))
    else:
        config = {"NAME": embedded.DATABASE_NAME, "USER": embedded_role, "HOST": "", "EMBEDDED": True}
    # A worker started by the tests points at the test database this way.
    config["NAME"] = env_str("KASSA_DB_NAME") or config["NAME"]
    config["ENGINE"] = "tenants.db"
    config["CONN_MAX_AGE"] = env_int("KASSA_DB_CONN_MAX_AGE", 60)
    config["CONN_HEALTH_CHECKS"] = True
    if pooled:
        # No server-side prepared statements (psycopg prepares a query run 5 times) and no
        # cursor held outside a transaction: the next transaction may get another server.
        config.setdefault("OPTIONS", {})["prepare_threshold"] = None
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
    return config


def _side(config: dict) -> dict:
    """A second connection of the same role, in autocommit (no request transaction)."""
    return {k: v for k, v in config.items() if k != "ATOMIC_REQUESTS"}


def _role(variable: str, config: dict | None, default: str) -> str:
    """A role's name: KASSA_DB_<ROLE>_ROLE, else the user of its connection, else the embedded name."""
    named = env_str(variable)
    used = config["USER"] if config else None
    if named and used and named != used:
        raise ConfigError(f"{variable}={named!r} but its database URL connects as {used!r}")
    return named or used or default


if PRIVILEGED_PROCESS:
    _main = _database(env_str(_MAINTENANCE_URL), embedded.MAINTENANCE_ROLE)
    # Only the application role's name, for the grants and checks; its connection is not kept.
    _app_user = environ.Env.db_url_config(env_str(_APP_URL))["USER"] if _given(_APP_URL) else None
    _app_config = {"USER": _app_user} if _app_user else None
else:
    _main = _app_config = _database(env_str(_APP_URL), embedded.APP_ROLE, pooled=KASSA_DB_TRANSACTION_POOLING)
_main["ATOMIC_REQUESTS"] = True
# The three roles by name (no credentials): grants, policies and the start-time checks use them.
KASSA_DB_ROLES = {
    "app": _role("KASSA_DB_APP_ROLE", _app_config, embedded.APP_ROLE),
    "maintenance": _role(
        "KASSA_DB_MAINTENANCE_ROLE", _main if PRIVILEGED_PROCESS else None, embedded.MAINTENANCE_ROLE
    ),
    "owner": env_str("KASSA_DB_OWNER_ROLE") or embedded.OWNER_ROLE,
}
DATABASES = {"default": _main}
if PRIVILEGED_PROCESS:
    # The maintenance role's second connection: maintenance_transaction (tenants.maintenance).
    DATABASES["maintenance"] = _side(_main)
if KASSA_PROCESS == "manage":
    _owner = _database(env_str(_OWNER_URL), embedded.OWNER_ROLE)
    KASSA_DB_ROLES["owner"] = _role("KASSA_DB_OWNER_ROLE", _owner, embedded.OWNER_ROLE)
    # Order matters for tests: the test runner creates the test database through the first alias.
    DATABASES = {"owner": _owner, **DATABASES}
    _owner["TEST"] = {"NAME": env_str("KASSA_TEST_DB_NAME"), "DEPENDENCIES": []}
# The audit log's own autocommit connection (auditlog.writer): an access-log entry outlives a
# rolled-back request; platform events are written through it too.
DATABASES["audit"] = _side(_main)
if KASSA_PROCESS in ("worker", "beat", "manage"):
    # A second connection of the default role for a consistent read-only snapshot beside the
    # progress writes on the default one (exports.builder).
    DATABASES["snapshot"] = _side(_main)
# Tests and benchmarks only: manage.py's connections start as the application role (SET ROLE at
# connection, which the maintenance login may do), so they run as the web does and step up with
# tenants.maintenance.as_maintenance() inside their own transaction, as the privileged worker is.
if KASSA_PROCESS == "manage" and env_bool("KASSA_DB_ACT_AS_APP", False):
    if PRODUCTION:
        raise ConfigError("KASSA_DB_ACT_AS_APP is for tests and benchmarks, never production")
    for _alias in ("default", "audit", "snapshot"):
        DATABASES[_alias].setdefault("OPTIONS", {})["options"] = f"-c role={KASSA_DB_ROLES['app']}"
# A streaming replica for the audit review and reports (core.replica): app role, read only.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
# Reads go to the replica only while it is at most this far behind; else to the primary.
KASSA_REPLICA_MAX_LAG_SECONDS = env_int("KASSA_REPLICA_MAX_LAG_SECONDS", 5)
if DATABASE_REPLICA_URL and KASSA_PROCESS != "privileged-worker":
    DATABASES["replica"] = _database(DATABASE_REPLICA_URL, embedded.APP_ROLE)
    _replica_options = DATABASES["replica"].setdefault("OPTIONS", {})
    _replica_options["options"] = f"{_replica_options.get('options', '')} -c default_transaction_read_only=on"
if "owner" in DATABASES:
    for _alias in DATABASES:
        if _alias != "owner":  # one test database, created by the owner, used by every role
            DATABASES[_alias]["TEST"] = {"MIRROR": "owner"}
# The change-log triggers read the actor from pghistory's context (auditlog.context).
PGHISTORY_JSON_ENCODER = "auditlog.context.ContextEncoder"
DATABASE_ROUTERS = ["core.routers.MigrationsAsOwnerRouter", "core.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker (database N), cache and throttling counters (database N + 1).
# With REDIS_SENTINELS (host:port,...) every client asks the Sentinels for the master named
# REDIS_SENTINEL_MASTER and follows it after a failover (deploy/ha.md).
REDIS_URL = env_str("REDIS_URL")
REDIS_DB = env_int("KASSA_REDIS_DB", 0)
REDIS_SENTINELS = env_list("REDIS_SENTINELS")
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "kassa")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS: dict = {}
_cache_options: dict = {}
_cache_backend = "core.cache.KassaRedisCache"
if REDIS_SENTINELS:
    CELERY_BROKER_URL = ";".join(f"sentinel://{node}/{REDIS_DB}" for node in REDIS_SENTINELS)
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = REDIS_SENTINEL_MASTER
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["master_name"] = REDIS_SENTINEL_MASTER
    CACHE_URL = ";".join(f"redis://{node}/{REDIS_DB + 1}" for node in REDIS_SENTINELS)
    _cache_backend = "core.cache.SentinelRedisCache"
    _cache_options = {"master_name": REDIS_SENTINEL_MASTER}
elif REDIS_URL:
    # redis://user:password@host:6379 or, on a shared network, rediss://...?ssl_cert_reqs=required
    # (the query is kept: TLS options for both the broker and the cache).
    _redis, _, _query = REDIS_URL.partition("?")
    _redis = _redis.rstrip("/")
    if _redis.rsplit("/", 1)[-1].isdigit():
        _redis = _redis.rsplit("/", 1)[0]
    _query = f"?{_query}" if _query else ""
    CELERY_BROKER_URL = f"{_redis}/{REDIS_DB}{_query}"
    CACHE_URL = f"{_redis}/{REDIS_DB + 1}{_query}"
else:
    CELERY_BROKER_URL = f"redis+socket://{embedded.redis_socket()}?virtual_host={REDIS_DB}"
    CACHE_URL = f"unix://{embedded.redis_socket()}?db={REDIS_DB + 1}"
# A message taken by a worker that died unacknowledged goes back to the queue after this long
# (kombu's default is an hour; every task is safe to run twice, jobs are claimed rows).
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = env_int("KASSA_CELERY_VISIBILITY_TIMEOUT", 3600)
# Every running worker looks for such messages every 10 s (kombu's default: every 100 s).
CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_throttle"] = 1
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CACHES = {
    "default": {
        "BACKEND": _cache_backend,
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": env_str("KASSA_CACHE_PREFIX", "kassa"),
        "OPTIONS": _cache_options,
    }
}

CELERY_TASK_DEFAULT_QUEUE = env_str("KASSA_CELERY_QUEUE", "celery")
# The privileged queue: tasks that need the maintenance role, consumed only by the privileged
# worker (KASSA_PROCESS=privileged-worker), the one worker holding its credentials.
KASSA_PRIVILEGED_QUEUE = env_str("KASSA_PRIVILEGED_QUEUE", "privileged")
KASSA_PRIVILEGED_TASKS = (
    "auditlog.audit_purge_task",
    "auditlog.audit_seal_task",
    "exports.customer_erasure_run_task",
    "lifecycle.backup_run_task",
    "lifecycle.backups_nightly_task",
    "lifecycle.restore_drills_task",
    "lifecycle.storage_drills_task",
    "lifecycle.tenants_purge_due_task",
    "lifecycle.tenant_terminate_task",
)
# Each queue has an exchange and routing key of its own: bound to the default exchange and key,
# the privileged queue would get a copy of every ordinary task.
CELERY_TASK_ROUTES = {
    name: {
        "queue": KASSA_PRIVILEGED_QUEUE,
        "exchange": KASSA_PRIVILEGED_QUEUE,
        "routing_key": KASSA_PRIVILEGED_QUEUE,
    }
    for name in KASSA_PRIVILEGED_TASKS
}
# What a worker consumes follows from its process: never both queues in one process.
_CONSUMED = KASSA_PRIVILEGED_QUEUE if KASSA_PROCESS == "privileged-worker" else CELERY_TASK_DEFAULT_QUEUE
CELERY_TASK_QUEUES = [Queue(_CONSUMED, Exchange(_CONSUMED, type="direct"), routing_key=_CONSUMED)]
# Celery's Django fixup closes every database connection before and after each task unless
# db_reuse_max is set: a new PostgreSQL backend per task (a webhook delivery per sale cost the
# database ~8 ms of CPU in `make bench-load`). The ordinary worker keeps its connection as a web
# worker does instead: kassa.celery closes it around a task only when CONN_MAX_AGE has passed or
# it is unusable (django.db.close_old_connections). The privileged worker still starts each
# task on a fresh connection: its tasks are rare and step between roles (tenants.maintenance).
CELERY_DB_REUSE_MAX = 2**62 if KASSA_PROCESS == "worker" else None
# Workers run at this nice value (kassa.celery, at start; 0 leaves it): on a machine they share
# with the web, a request goes first and the queue's work takes what is left (bench/RESULTS.md,
# eleventh pass). It never raises a worker's priority.
KASSA_WORKER_NICE = env_int("KASSA_WORKER_NICE", 10)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# One beat sends at a time: the others stand by on a lock in Redis, and every send claims its
# schedule slot in the database first (kassa.beat), so no slot runs twice.
CELERY_BEAT_SCHEDULER = "kassa.beat:LeaderScheduler"
KASSA_BEAT_LOCK_SECONDS = env_int("KASSA_BEAT_LOCK_SECONDS", 30)
CELERY_BEAT_MAX_LOOP_INTERVAL = max(1, KASSA_BEAT_LOCK_SECONDS // 3)
CELERY_BEAT_SCHEDULE: dict = {
    # Idempotency-Key records are kept 24 hours; then they go.
    "idempotency-records-expire": {"task": "idempotency.idempotency_records_expire_task", "schedule": 3600.0},
    # PCI DSS 8.2.6: accounts unused for 90 days are disabled.
    "users-deactivate-dormant": {"task": "accounts.users_deactivate_dormant_task", "schedule": 24 * 3600.0},
    # Integrator keys expiring within 14 days: a mail to the chain's owners, once per key.
    "access-attempts-expire": {"task": "accounts.access_attempts_expire_task", "schedule": 3600.0},
    "keys-expiry-warn": {"task": "accounts.keys_expiry_warn_task", "schedule": crontab(hour=7, minute=0)},
    # Chain new audit entries of every tenant into a sealed batch (auditlog.sealing).
    "audit-seal": {"task": "auditlog.audit_seal_task", "schedule": 300.0},
    # Verify every chain; a broken one alerts the operators and shows to the chain's owners.
    "audit-verify": {"task": "auditlog.audit_verify_task", "schedule": crontab(hour=3, minute=15)},
    # Delete audit entries past each tenant's retention (at least 365 days); each purge is logged.
    "audit-purge": {"task": "auditlog.audit_purge_task", "schedule": crontab(hour=3, minute=45)},
    # Back up every active tenant, then expire old backups (KASSA_BACKUP_KEEP_DAILY/MONTHLY).
    "backups-nightly": {
        "task": "lifecycle.backups_nightly_task",
        "schedule": crontab(hour=2, minute=0),
    },
    # Restore each tenant's latest backup into a scratch tenant and compare it with its manifest.
    "restore-drills": {"task": "lifecycle.restore_drills_task", "schedule": crontab(hour=4, minute=30)},
    # Weekly: rebuild each tenant's latest backup from storage alone into a scratch database
    # (lifecycle.services.drills.storage_drill_run). It needs the owner role: the task runs
    # `manage.py drill_from_storage`, which reaches it only where the database is embedded; with an
    # external database the systemd timer deploy/systemd/kassa-drill.timer runs the command
    # instead (the privileged worker never holds the owner's credential) and this entry is off.
    **(
        {
            "storage-drill-weekly": {
                "task": "lifecycle.storage_drills_task",
                "schedule": crontab(day_of_week=0, hour=5, minute=30),
            }
        }
        if KASSA_STORAGE_DRILL_BEAT
        else {}
    ),
    # Purge terminated tenants whose grace period (KASSA_TERMINATION_GRACE_DAYS) has ended.
    "tenants-purge-due": {
        "task": "lifecycle.tenants_purge_due_task",
        "schedule": crontab(hour=5, minute=0),
    },
    # Delete export files past their download window (KASSA_EXPORT_DAYS) from storage.
    "exports-expire": {"task": "exports.exports_expire_task", "schedule": 3600.0},
    # The beat's own heartbeat: which slot was last sent and run (kassa.beat).
    "beat-heartbeat": {
        "task": "kassa.beat_heartbeat_task",
        "schedule": float(env_int("KASSA_BEAT_HEARTBEAT_SECONDS", 60)),
    },
    # Webhook deliveries due for a retry (a missed wake-up, a retry far ahead): wake their endpoints.
    "webhook-deliveries-sweep": {"task": "integrations.deliveries_sweep_task", "schedule": 60.0},
    # Delivered webhook events and attempts older than KASSA_WEBHOOK_KEEP_DAYS go.
    "webhook-events-expire": {"task": "integrations.events_expire_task", "schedule": 3600.0},
}

# --- Webhooks (integrations/net.py): where deliveries may go is checked again at send time.
KASSA_WEBHOOK_ALLOW_HTTP = env_bool("KASSA_WEBHOOK_ALLOW_HTTP", not PRODUCTION)  # plain http:// URLs
KASSA_WEBHOOK_ALLOW_PRIVATE = env_bool("KASSA_WEBHOOK_ALLOW_PRIVATE", not PRODUCTION)  # loopback, 10/8, ...
if PRODUCTION and (KASSA_WEBHOOK_ALLOW_HTTP or KASSA_WEBHOOK_ALLOW_PRIVATE):
    raise ConfigError("KASSA_WEBHOOK_ALLOW_HTTP and KASSA_WEBHOOK_ALLOW_PRIVATE are for dev and tests only")
KASSA_WEBHOOK_CA_FILE = env_str("KASSA_WEBHOOK_CA_FILE")  # trust these CAs instead of the system's
# Fixed addresses for host names, like curl's --resolve: "hooks.example.com=203.0.113.7,...".
KASSA_WEBHOOK_RESOLVE = dict(item.split("=", 1) for item in env_list("KASSA_WEBHOOK_RESOLVE") if "=" in item)
KASSA_WEBHOOK_TIMEOUT = env_int("KASSA_WEBHOOK_TIMEOUT", 10)  # seconds to connect, and to answer
KASSA_WEBHOOK_KEEP_DAYS = env_int("KASSA_WEBHOOK_KEEP_DAYS", 30)
# A drain waits this long after the commit that woke it: the sales of a busy till meanwhile go
# out with it, one task instead of one each (integrations.tasks.endpoint_wake).
KASSA_WEBHOOK_GATHER_MS = env_int("KASSA_WEBHOOK_GATHER_MS", 200)

# --- Identity
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/admin/"

# Lockout (django-axes): counted per tenant and username whatever the letter case, the IP or
# the channel; threshold and cool-off come from the user's role policy (accounts.policy).
AXES_USERNAME_CALLABLE = "accounts.lockout.lockout_key"
AXES_FAILURE_LIMIT = "accounts.lockout.failure_limit"
AXES_COOLOFF_TIME = "accounts.lockout.cooloff"
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# Failed sign-in records (usernames, addresses, what was typed) are deleted after this many days.
KASSA_ACCESS_ATTEMPT_DAYS = env_int("KASSA_ACCESS_ATTEMPT_DAYS", 7)
# The second counter: failed sign-ins per client IP per hour, across all usernames.
KASSA_SIGNIN_FAILURES_PER_IP_HOUR = env_int("KASSA_SIGNIN_FAILURES_PER_IP_HOUR", 100)
KASSA_MFA_GRACE_DAYS = env_int("KASSA_MFA_GRACE_DAYS", 7)
OTP_TOTP_ISSUER = "Kassa"
SILENCED_SYSTEM_CHECKS = [
    "auth.E003",  # usernames are unique per tenant (accounts.User constraint), not globally
    "auth.W004",  # likewise; the backend looks users up within the current tenant
    "axes.W002",  # sign-in views handle lockouts themselves (accounts.signin), no middleware
    "axes.W006",  # the per-IP counter is separate, so one shop's NAT cannot lock every cashier
]

# --- HTTP API
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "core.schema.KassaAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api_permissions.IsSignedIn"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.FormatOverrideNegotiation",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PagePagination",
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.TokenRateThrottle"],
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}
# Requests per token (or per client IP without one), counted in Redis: "N/second|minute|hour".
KASSA_API_RATE = env_str("KASSA_API_RATE", "6000/minute")
# Sales are recorded in this currency, rounded half up to cents.
KASSA_CURRENCY = env_str("KASSA_CURRENCY", "EUR")
SPECTACULAR_SETTINGS = {
    "TITLE": "Kassa API",
    "DESCRIPTION": "Multi-tenant retail point of sale and inventory.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Request bodies get components of their own, without read-only fields (id, created_at, ...).
    "COMPONENT_SPLIT_REQUEST": True,
    # Summaries and descriptions written for integrators, and operation ids (kassa.openapi).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "kassa.openapi.postprocess"],
    "ENUM_NAME_OVERRIDES": {
        "PermissionEnum": "accounts.permissions.PERMISSION_CHOICES",
        "ApiTokenKindEnum": "accounts.models.ApiToken.Kind",
        "SignInEventKindEnum": "auditlog.models.SignInEvent.Kind",
        "StockMovementKindEnum": "inventory.models.StockMovement.Kind",
        "StockMovementRequestKindEnum": "inventory.serializers.StockMovementIn.KINDS",
        "ExportStatusEnum": "exports.models.Export.Status",
        "CustomerErasureStatusEnum": "exports.models.CustomerErasure.Status",
        "ExportKindEnum": "exports.models.Export.Kind",
        "RestoreDrillKindEnum": "lifecycle.models.RestoreDrill.Kind",
        "PurchaseOrderStatusEnum": "backoffice.models.PurchaseOrder.Status",
        "StocktakeStatusEnum": "backoffice.models.Stocktake.Status",
        "TransferStatusEnum": "backoffice.models.Transfer.Status",
        "CashMovementKindEnum": "inventory.models.CashMovement.Kind",
        "ShiftStatusEnum": "inventory.models.Shift.Status",
        "PaymentMethodEnum": "inventory.models.Payment.Method",
        "ReportKindEnum": ["X", "Z"],
    },
}

# --- Transport and cookies
SECURE_SSL_REDIRECT = KASSA_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapes from inside
SECURE_HSTS_SECONDS = 31536000 if KASSA_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_AGE = 43200  # the absolute lifetime; idle and per-role limits: accounts.middleware
SESSION_COOKIE_NAME = "__Host-kassa-session" if KASSA_HTTPS else "kassa-session"
CSRF_COOKIE_NAME = "__Host-kassa-csrf" if KASSA_HTTPS else "kassa-csrf"
SESSION_COOKIE_SECURE = KASSA_HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = KASSA_HTTPS
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if KASSA_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("KASSA_MAX_BODY_BYTES", 1024 * 1024)

LANGUAGE_CODE = "en"
# The browser's Accept-Language picks one (LocaleMiddleware); a user's profile language wins.
LANGUAGES = [("en", "English"), ("fi", "Suomi")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# --- Operations: JSON logs, metrics, alerts, mail to operators
KASSA_METRICS_ALLOWED_IPS = env_list("KASSA_METRICS_ALLOWED_IPS", "127.0.0.1,::1")
KASSA_ALERT_WEBHOOK = env_str("KASSA_ALERT_WEBHOOK")
KASSA_ALERT_SIGNIN_FAILURES = env_int("KASSA_ALERT_SIGNIN_FAILURES", 50)  # per tenant in 10 minutes
KASSA_ALERT_LOCKOUTS = env_int("KASSA_ALERT_LOCKOUTS", 5)  # per tenant in 10 minutes
ADMINS = [("Kassa operators", address) for address in env_list("KASSA_ADMINS")]
SERVER_EMAIL = env_str("KASSA_SERVER_EMAIL", "kassa@localhost")
EMAIL_HOST = env_str("KASSA_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("KASSA_EMAIL_PORT", 25)
EMAIL_USE_TLS = env_bool("KASSA_EMAIL_USE_TLS", PRODUCTION)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": env_str("KASSA_LOG_FORMAT", "json")}
    },
    "root": {"handlers": ["console"], "level": env_str("KASSA_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # our own sign-in log records every attempt
    },
}
