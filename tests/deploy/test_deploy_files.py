"""The deployment files hold their rules: no secret in the image or in compose, least privilege per service.

Read as the tools read them: compose.yaml parsed as YAML (anchors and merges resolved), the
Dockerfile instruction by instruction, .dockerignore matched against the checkout's own files.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KASSA_SERVICES = {"migrate", "web1", "web2", "worker", "privileged-worker", "beat"}
ROLE_URLS = {
    "web": {"DATABASE_URL_FILE"},
    "worker": {"DATABASE_URL_FILE"},
    "beat": {"DATABASE_URL_FILE"},
    "privileged-worker": {"DATABASE_MAINTENANCE_URL_FILE"},
    "manage": {"DATABASE_MAINTENANCE_URL_FILE", "DATABASE_OWNER_URL_FILE"},
}
# A password inline: a URL with user:password@, or a *PASSWORD*/*SECRET*/*KEY* variable with a value.
INLINE_CREDENTIAL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def environment(service: dict) -> dict:
    env = service.get("environment") or {}
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif value is not None:
        yield str(value)


def test_compose_writes_no_password_and_reads_every_secret_from_a_file(compose):
    for text in strings(compose["services"]):
        assert not INLINE_CREDENTIAL.search(text), text
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if not key.endswith("_FILE") and re.search(r"PASSWORD|SECRET|_KEY$|_URL$", key):
                pytest.fail(f"{name}: {key} is given inline ({value!r}); secrets come as *_FILE")
            if key.endswith("_FILE"):
                assert str(value).startswith("/run/secrets/"), (name, key, value)
                secret = str(value).removeprefix("/run/secrets/")
                assert secret in service.get("secrets", []), f"{name} reads {secret} but does not mount it"
    for name, secret in compose["secrets"].items():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/"), name
    assert compose["services"]["db"]["environment"] == {
        "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password"
    }


def test_each_kassa_service_holds_only_its_roles_database_credentials(compose):
    services = compose["services"]
    assert set(services) >= KASSA_SERVICES
    for name in KASSA_SERVICES:
        env = environment(services[name])
        process = env["KASSA_PROCESS"]
        assert {k for k in env if k.startswith("DATABASE_")} == ROLE_URLS[process], name
        mounted = {s for s in services[name]["secrets"] if "database_url" in s}
        wanted = {env[k].removeprefix("/run/secrets/") for k in ROLE_URLS[process]}
        assert mounted == wanted, name
    assert environment(services["privileged-worker"])["KASSA_PROCESS"] == "privileged-worker"
    for web in ("web1", "web2"):
        assert environment(services[web])["KASSA_PROCESS"] == "web"
        assert not {s for s in services[web]["secrets"] if "maintenance" in s or "owner" in s}


def test_redis_needs_a_password_and_the_databases_are_not_reachable_from_outside(compose):
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert "--aclfile" in command or "--requirepass" in command
    assert "redis_acl" in redis["secrets"]
    acl = (DEPLOY / "compose-secrets.sh").read_text()
    assert "user default off" in acl and "redis://kassa:" in acl
    for name in ("db", "redis"):
        assert compose["services"][name]["networks"] == ["backend"]
        assert "ports" not in compose["services"][name]
    assert compose["networks"]["backend"]["internal"] is True


def test_the_roles_script_makes_three_roles_none_above_row_level_security():
    sql = (DEPLOY / "postgres-roles.sql").read_text()
    for role in ("kassa_owner", "kassa_app", "kassa_maintenance"):
        line = next(line for line in sql.splitlines() if line.startswith(f"CREATE ROLE {role} "))
        assert "NOSUPERUSER" in line and "NOBYPASSRLS" in line and ":" in line.split("PASSWORD")[1]
    init = (DEPLOY / "compose-roles.sh").read_text()
    assert "/run/secrets/" in init and not re.search(r"password=\"'[A-Za-z0-9]+'\"", init)


def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_image_runs_as_an_unprivileged_user_that_cannot_change_the_code():
    instructions = dockerfile()
    copies = [args for op, args in instructions if op in ("COPY", "ADD")]
    assert copies and not any("--chown" in args for args in copies), "the code must stay root's"
    users = [(i, args) for i, (op, args) in enumerate(instructions) if op == "USER"]
    assert users and users[-1][1].strip() == "kassa"
    last_copy = max(i for i, (op, _) in enumerate(instructions) if op in ("COPY", "ADD"))
    assert users[-1][0] > last_copy
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert "chown kassa:kassa var" in runs and "chown -R" not in runs
    assert "chmod -R go-w" in runs


def pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as Docker reads it: Go's filepath.Match (`*` and `?` stay inside
    one path segment) plus `**` for any number of segments."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def ignored(path: str) -> bool:
    """Whether the build context leaves `path` out: the last matching pattern wins, and a
    directory left out takes everything under it."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            result = not negate
    return result


@pytest.mark.parametrize(
    "path",
    [
        "var/postgres/base/1",
        "var/master.key",
        "var/secret.key",
        "var/tls/key.pem",
        ".git/HEAD",
        ".venv/bin/python",
        "deploy/secrets/owner_database_url",
        "deploy/kassa.env",
        "some/where/server.key",
        "kassa/__pycache__/settings.cpython-311.pyc",
    ],
)
def test_dockerignore_keeps_local_state_keys_and_secrets_out_of_the_image(path):
    assert ignored(path)


def test_dockerignore_keeps_every_file_of_the_code():
    """Every tracked file the app needs is in the context: nothing of the code is left out."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = [
        f for f in tracked.stdout.splitlines() if f.endswith((".py", ".html", ".css", ".js", ".mo", ".lock"))
    ]
    assert "kassa/settings.py" in files
    assert [f for f in files if ignored(f)] == []


@pytest.mark.parametrize("name", ["nginx.conf", "nginx-compose.conf"])
def test_nginx_offers_tls_1_2_with_ecdhe_aead_suites_and_tls_1_3_only(name):
    text = (DEPLOY / name).read_text()
    assert re.search(r"^\s*ssl_protocols TLSv1\.2 TLSv1\.3;", text, re.M)
    ciphers = re.search(r"^\s*ssl_ciphers ([^;]+);", text, re.M).group(1).split(":")
    assert ciphers and all(
        c.startswith("ECDHE-") and ("GCM" in c or "CHACHA20-POLY1305" in c) for c in ciphers
    )


def test_the_systemd_units_hand_each_process_only_its_roles_credential():
    units = DEPLOY / "systemd"
    expected = {
        "kassa-web.service": ("web", "app-database-url"),
        "kassa-worker.service": ("worker", "app-database-url"),
        "kassa-beat.service": ("beat", "app-database-url"),
        "kassa-privileged-worker.service": ("privileged-worker", "maintenance-database-url"),
    }
    for name, (process, credential) in expected.items():
        text = (units / name).read_text()
        assert f"KASSA_PROCESS={process}" in text
        loaded = set(re.findall(r"LoadCredential=([a-z-]+):", text))
        assert {c for c in loaded if "database-url" in c} == {credential}, name
        assert "PASSWORD" not in text and not INLINE_CREDENTIAL.search(text)
    example = (DEPLOY / "kassa.env.example").read_text()
    assert not re.search(r"^(DATABASE_|REDIS_URL|KASSA_SECRET_KEY|KASSA_MASTER_KEY)", example, re.M)


def test_a_web_worker_freezes_the_loaded_application_and_widens_the_collectors_passes(monkeypatch):
    """deploy/gunicorn.conf.py's post_worker_init, as gunicorn calls it after loading the app."""
    import gc
    import os
    import runpy

    # The file sets KASSA_PROCESS=web for gunicorn: this process's own comes back after the test.
    monkeypatch.setenv("KASSA_PROCESS", os.environ.get("KASSA_PROCESS", "manage"))
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    before = gc.get_threshold()
    try:
        conf["post_worker_init"](worker=None)
        assert gc.get_threshold() == conf["GC_THRESHOLDS"] == (50_000, 50, 100)
        assert gc.get_freeze_count() > 10_000  # the loaded application, out of every pass
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
