"""Bad configuration stops Kassa at start with one clear line, not a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "x" * 60
GOOD_MASTER = "uS8XQyZ6o8sP8Yk9Y3Jm3b7oH2a0k0m7m9zQm4wTq0E="


def start(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "KASSA_SECRET_KEY is required in production"),
        ({"KASSA_SECRET_KEY": "django-insecure-" + "x" * 50}, "default or short key"),
        ({"KASSA_SECRET_KEY": GOOD_SECRET}, "KASSA_MASTER_KEY (or KASSA_KMS_KEY_ID) is required"),
        (
            {"KASSA_SECRET_KEY": GOOD_SECRET, "KASSA_MASTER_KEY": GOOD_MASTER, "KASSA_DEBUG": "true"},
            "KASSA_DEBUG must be off",
        ),
        (
            {"KASSA_SECRET_KEY": GOOD_SECRET, "KASSA_MASTER_KEY": GOOD_MASTER, "KASSA_HTTPS": "false"},
            "plain HTTP",
        ),
        (
            {"KASSA_SECRET_KEY": GOOD_SECRET, "KASSA_MASTER_KEY": GOOD_MASTER, "KASSA_DEBUG": "maybe"},
            "is not a boolean",
        ),
    ],
)
def test_production_refuses_to_start_with_bad_configuration(env, message):
    result = start(KASSA_ENV="production", **env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_an_unknown_environment_name_is_refused():
    result = start(KASSA_ENV="staging")
    assert result.returncode != 0
    assert (
        result.stderr.strip() == "kassa: configuration error: KASSA_ENV='staging' must be dev or production"
    )


def test_production_starts_with_good_configuration():
    result = start(KASSA_ENV="production", KASSA_SECRET_KEY=GOOD_SECRET, KASSA_MASTER_KEY=GOOD_MASTER)
    assert result.returncode == 0, result.stderr
