"""The wheel: built from the tracked files (as a fresh clone has them), installed into a new venv.

Every project package imports from the installed wheel (never from the source tree: the checks
run outside it), and the files the apps read at run time came along: templates, static files,
migrations and the compiled translations. The new venv has no pip and reaches the network for
nothing (the tracked files come from git): the wheel goes in with this venv's pip (`--python`, `--no-index`, `--no-deps`) and the
dependencies are this venv's, named by a .pth file after the new venv's own site-packages.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = {"tests", "bench"}  # packages of the checkout that are tools, not Kassa

# Run by the new venv's python: Django set up from the installed packages, then what it finds.
PROBE = """
import importlib, json, sys
import django
django.setup()
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db.migrations.loader import MigrationLoader
from django.template.loader import get_template
from django.utils import translation

packages, templates, statics = json.loads(sys.argv[1])
with translation.override("fi"):
    finnish = translation.gettext("Username")
print(json.dumps({
    "packages": {name: list(importlib.import_module(name).__path__) for name in packages},
    "templates": [get_template(name).origin.name for name in templates],
    "static": [finders.find(path) for path in statics],
    "migrations": sorted({app for app, _ in MigrationLoader(None, ignore_no_migrations=True).disk_migrations}),
    "locale": [str(path) for path in settings.LOCALE_PATHS],
    "finnish": finnish,
}))
"""


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def shipped_packages(files: list[str]) -> list[str]:
    tops = {name.split("/")[0] for name in files if name.count("/") == 1 and name.endswith("/__init__.py")}
    return sorted(tops - NOT_SHIPPED)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site-packages of the new venv, the tracked files, the project packages)."""
    work = tmp_path_factory.mktemp("wheel")
    files = tracked_files()
    source = work / "source"
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [
            *pip,
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            work / "dist",
            ".",
        ],
        cwd=source,
        check=True,
        timeout=120,
    )
    (wheel,) = (work / "dist").glob("kassa-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=60)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel],
        cwd=work,
        check=True,
        timeout=120,
    )
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "kassa_test_dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(dependencies)))
    return site, files, shipped_packages(files)


def test_every_project_package_is_in_pyprojects_list():
    """A new package on the checkout's top level must be added to pyproject's packages.find."""
    text = (ROOT / "pyproject.toml").read_text()
    for package in shipped_packages(tracked_files()):
        assert f'"{package}", "{package}.*"' in text, f"add {package} to [tool.setuptools.packages.find]"


def test_the_wheel_holds_every_file_of_every_package_and_the_translations(installed):
    site, files, packages = installed
    expected = {
        name
        for name in files
        if name.split("/")[0] in packages or (name.startswith("locale/") and name.endswith(".mo"))
    }
    record = next(site.glob("kassa-*.dist-info")) / "RECORD"
    shipped = {
        line.split(",")[0]
        for line in record.read_text().splitlines()
        if line and ".dist-info/" not in line and "__pycache__" not in line
    }
    assert shipped == expected
    assert {
        "kassa",
        "core",
        "tenants",
        "idempotency",
        "integrations",
        "backoffice",
        "lifecycle",
        "reports",
        "pos",
        "web",
    } <= set(packages)


def test_the_installed_apps_find_their_templates_static_files_migrations_and_translations(
    installed, tmp_path
):
    site, files, packages = installed
    templates = sorted(
        name.split("/templates/", 1)[1]
        for name in files
        if "/templates/" in name and name.split("/")[0] in packages
    )
    statics = sorted(
        name.split("/static/", 1)[1]
        for name in files
        if "/static/" in name and name.split("/")[0] in packages
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KASSA_", "DJANGO_", "PYTHON", "DATABASE_", "REDIS_"))
    }
    # A Redis URL (never connected to) keeps Django from starting an embedded Redis that would
    # outlive the test.
    env.update(
        DJANGO_SETTINGS_MODULE="kassa.settings",
        KASSA_VAR_DIR=str(tmp_path / "var"),
        REDIS_URL="redis://127.0.0.1:9/0",
    )
    probe = subprocess.run(
        [site.parents[2] / "bin" / "python", "-c", PROBE, json.dumps([packages, templates, statics])],
        cwd=tmp_path,  # outside the checkout: nothing can come from the source tree
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)

    def installed_path(path: str) -> bool:
        return Path(path).is_relative_to(site)

    assert set(found["packages"]) == set(packages)
    for name, paths in found["packages"].items():
        assert paths and all(installed_path(path) for path in paths), (name, paths)
    assert len(found["templates"]) == len(templates) and all(map(installed_path, found["templates"]))
    assert len(found["static"]) == len(statics) and all(
        path is not None and installed_path(path) for path in found["static"]
    )
    with_migrations = {name.split("/")[0] for name in files if "/migrations/0" in name}
    assert set(found["migrations"]) >= with_migrations
    assert [Path(path) for path in found["locale"]] == [site / "locale"]
    assert found["finnish"] == "Käyttäjätunnus"
