"""What each process's settings hold: a web process has no owner or maintenance credentials at all.

Each case loads the settings in a process of its own, with an environment that holds every
role's URL (as a careless deployment would share one file), and looks at everything the
settings derived from it. The start-time check then refuses, in production, a role that could
step outside row-level security.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

ROOT = Path(__file__).resolve().parents[2]
APP_URL = "postgres://kassa_app:app-pass-1618@db.invalid:5432/kassa"
MAINTENANCE_URL = "postgres://kassa_maintenance:maintenance-pass-3141@db.invalid:5432/kassa"
OWNER_URL = "postgres://kassa_owner:owner-pass-2718@db.invalid:5432/kassa"
EVERY_URL = {
    "DATABASE_URL": APP_URL,
    "DATABASE_MAINTENANCE_URL": MAINTENANCE_URL,
    "DATABASE_OWNER_URL": OWNER_URL,
}
PRODUCTION = {
    "KASSA_ENV": "production",
    "KASSA_SECRET_KEY": "s" * 60,
    "KASSA_MASTER_KEY": "uS8XQyZ6o8sP8Yk9Y3Jm3b7oH2a0k0m7m9zQm4wTq0E=",
}
LOAD = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
from django.conf import settings
print(json.dumps({
    "aliases": {alias: config.get("USER") for alias, config in settings.DATABASES.items()},
    "queues": [queue.name for queue in settings.CELERY_TASK_QUEUES],
    "bindings": [[queue.exchange.name, queue.routing_key] for queue in settings.CELERY_TASK_QUEUES],
    "routes": settings.CELERY_TASK_ROUTES,
    "environ": sorted(name for name in os.environ if name.startswith("DATABASE")),
    "values": [repr(getattr(settings, name)) for name in dir(settings) if name.isupper()],
}))
"""


def environment(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KASSA_", "DATABASE_"))}
    return {**clean, "REDIS_URL": "redis://redis.invalid:6379", **env}


def load(process: str, **env) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=ROOT,
        env=environment(KASSA_PROCESS=process, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refusal(command: list[str], **env) -> str:
    result = subprocess.run(
        command, cwd=ROOT, env=environment(**env), capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("kassa:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("process", ["web", "worker", "beat"])
def test_a_web_worker_or_beat_process_holds_the_application_role_and_nothing_else(process):
    loaded = load(process, **EVERY_URL)

    assert set(loaded["aliases"]) <= {"default", "audit", "snapshot"}
    assert set(loaded["aliases"].values()) == {"kassa_app"}
    everything = " ".join(loaded["values"])
    for secret in (
        "maintenance-pass-3141",
        "owner-pass-2718",
        MAINTENANCE_URL,
        OWNER_URL,
        "db.invalid:5432/kassa?",
    ):
        assert secret not in everything
    assert "app-pass-1618" in everything  # its own connection is there: the scan would see one
    # Not in its environment either, where a compromised process would look next.
    assert loaded["environ"] == ["DATABASE_URL"]
    assert loaded["queues"] == ["celery"]
    assert loaded["bindings"] == [["celery", "celery"]]


def test_the_privileged_worker_holds_the_maintenance_role_and_consumes_only_the_privileged_queue():
    loaded = load("privileged-worker", **EVERY_URL)

    assert loaded["aliases"] == {
        "default": "kassa_maintenance",
        "maintenance": "kassa_maintenance",
        "audit": "kassa_maintenance",
    }
    everything = " ".join(loaded["values"])
    assert "owner-pass-2718" not in everything and OWNER_URL not in everything
    assert "DATABASE_OWNER_URL" not in loaded["environ"]
    assert loaded["queues"] == ["privileged"]
    # Its own exchange and key: bound to the default ones it would get a copy of every ordinary task.
    assert loaded["bindings"] == [["privileged", "privileged"]]
    assert set(loaded["routes"]) == set(settings.KASSA_PRIVILEGED_TASKS)
    assert {tuple(sorted(route.values())) for route in loaded["routes"].values()} == {("privileged",) * 3}


def test_manage_holds_what_operators_commands_need():
    loaded = load("manage", **EVERY_URL)
    assert loaded["aliases"] == {
        "owner": "kassa_owner",
        "default": "kassa_maintenance",
        "maintenance": "kassa_maintenance",
        "audit": "kassa_maintenance",
        "snapshot": "kassa_maintenance",
    }
    assert "app-pass-1618" not in " ".join(loaded["values"])  # only the role's name is taken from it


def test_every_privileged_task_is_routed_to_the_privileged_queue():
    from kassa.celery import app

    app.loader.import_default_modules()  # every app's tasks, as a worker registers them

    for name in settings.KASSA_PRIVILEGED_TASKS:
        assert name in app.tasks, name
        assert app.amqp.router.route({}, name)["queue"].name == settings.KASSA_PRIVILEGED_QUEUE
    assert (
        app.amqp.router.route({}, "exports.export_run_task")["queue"].name
        == settings.CELERY_TASK_DEFAULT_QUEUE
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KASSA_PROCESS": "web", **EVERY_URL, **PRODUCTION},
            "DATABASE_MAINTENANCE_URL must not be in the environment of a web process",
        ),
        (
            {
                "KASSA_PROCESS": "worker",
                "DATABASE_URL": APP_URL,
                "DATABASE_OWNER_URL_FILE": "/x",
                **PRODUCTION,
            },
            "DATABASE_OWNER_URL_FILE must not be in the environment of a worker process",
        ),
        (
            {"KASSA_PROCESS": "manage", "DATABASE_URL": APP_URL},
            "DATABASE_MAINTENANCE_URL is required for a manage process when the database is external",
        ),
        (
            {"KASSA_PROCESS": "manage", "DATABASE_MAINTENANCE_URL": MAINTENANCE_URL},
            "DATABASE_OWNER_URL is required for a manage process when the database is external",
        ),
        (
            {"KASSA_PROCESS": "beat", "DATABASE_OWNER_URL": OWNER_URL, **PRODUCTION},
            "DATABASE_OWNER_URL must not be in the environment of a beat process",
        ),
        (
            {"KASSA_PROCESS": "privileged-worker", "DATABASE_URL": APP_URL},
            "DATABASE_MAINTENANCE_URL is required for a privileged-worker process",
        ),
        ({"KASSA_PROCESS": "everything"}, "KASSA_PROCESS='everything' must be one of"),
        (
            {"KASSA_PROCESS": "manage", "KASSA_DB_ACT_AS_APP": "true", **PRODUCTION},
            "KASSA_DB_ACT_AS_APP is for tests and benchmarks, never production",
        ),
    ],
)
def test_the_configuration_is_explicit_and_refused_with_one_line(env, message):
    line = refusal([sys.executable, "manage.py", "check"], **env)
    assert message in line


def url_for(kind: str) -> str:
    """A URL to the test database logging in with a role's credentials (`superuser`: the embedded
    server's own superuser)."""
    alias = {"superuser": "owner", "owner": "owner", "maintenance": "maintenance", "app": "owner"}[kind]
    params = connections[alias].get_connection_params()
    user = {"superuser": "postgres", "app": settings.KASSA_DB_ROLES["app"]}.get(kind, params["user"])
    password = params.get("password") if kind in ("owner", "maintenance") else None
    if kind == "app" and os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"].split("?")[0].rsplit("/", 1)[0] + f"/{params['dbname']}"
    secret = f":{password}" if password else ""
    host = params.get("host", "")
    if host.startswith("/"):
        return f"postgres://{user}{secret}@/{params['dbname']}?host={host}"
    return f"postgres://{user}{secret}@{host}:{params.get('port') or 5432}/{params['dbname']}"


UNSAFE_APP_ROLES = [
    ("owner", "the app role kassa_owner owns tables; the app role kassa_owner is the owner role"),
    ("maintenance", "the app role kassa_maintenance is the maintenance role"),
]
if not os.environ.get("DATABASE_URL"):  # the embedded server's superuser: no password on its socket
    UNSAFE_APP_ROLES.append(
        ("superuser", "the app role postgres is a superuser; the app role postgres has BYPASSRLS")
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "problem"), UNSAFE_APP_ROLES)
def test_a_web_process_refuses_in_production_a_role_that_could_step_outside_row_level_security(role, problem):
    line = refusal(
        [sys.executable, "-c", "import kassa.wsgi"],
        KASSA_PROCESS="web",
        DATABASE_URL=url_for(role),
        **PRODUCTION,
    )
    assert line.startswith("kassa: configuration error: refusing to start: ")
    assert problem in line


@pytest.mark.django_db
def test_the_privileged_worker_refuses_the_owner_role_in_production():
    line = refusal(
        [sys.executable, "-m", "celery", "-A", "kassa", "worker", "--pool", "solo", "--loglevel", "ERROR"],
        KASSA_PROCESS="privileged-worker",
        DATABASE_MAINTENANCE_URL=url_for("owner"),
        **PRODUCTION,
    )
    assert "refusing to start: the maintenance role kassa_owner owns tables" in line


@pytest.mark.django_db
def test_in_development_an_unsafe_role_is_a_warning_once():
    result = subprocess.run(
        [sys.executable, "-c", "import kassa.wsgi\nfrom tenants.roles import startup_check\nstartup_check()"],
        cwd=ROOT,
        env=environment(KASSA_PROCESS="web", DATABASE_URL=url_for("owner"), KASSA_LOG_FORMAT="plain"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("unsafe database role: the app role kassa_owner owns tables") == 1


@pytest.mark.django_db
def test_the_right_roles_start_quietly():
    result = subprocess.run(
        [sys.executable, "-c", "import kassa.wsgi"],
        cwd=ROOT,
        env=environment(KASSA_PROCESS="web", DATABASE_URL=url_for("app"), **PRODUCTION),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "unsafe" not in result.stderr and "refusing" not in result.stderr
