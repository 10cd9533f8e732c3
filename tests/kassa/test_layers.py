"""The import contracts of `make lint` (pyproject.toml, [tool.importlinter]) hold, and catch a breach."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    "kassa",
    "pos",
    "web",
    "lifecycle",
    "exports",
    "reports",
    "backoffice",
    "inventory",
    "integrations",
    "accounts",
    "auditlog",
    "idempotency",
    "tenants",
    "core",
]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def copy_of_the_code(tmp_path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc", "static", "templates")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("tenants/models.py", "import inventory.models", "tenants (the ground) imports no app"),
        ("core/api.py", "import accounts.authz", "Layers point one way"),
        ("inventory/selectors.py", "import rest_framework", "Domain modules never import DRF"),
        ("auditlog/selectors.py", "import accounts.models", "auditlog's domain never imports accounts"),
        ("accounts/services.py", "import inventory.models", "accounts never imports inventory"),
        ("inventory/services/stock.py", "import backoffice.models", "Layers point one way"),
        ("backoffice/selectors.py", "import exports.models", "Layers point one way"),
        (
            "integrations/delivery.py",
            "import inventory.models",
            "integrations (webhooks) never imports inventory: emitters hand it what it sends",
        ),
        (
            "inventory/selectors.py",
            "import reports.selectors",
            "inventory never imports exports, reports or lifecycle",
        ),
        ("reports/selectors.py", "import exports.services", "Layers point one way"),
    ],
)
def test_a_wrong_import_breaks_its_contract(copy_of_the_code, module, bad_import, contract):
    path = copy_of_the_code / module
    path.write_text(path.read_text() + f"\n{bad_import}  # the breach under test\n")
    result = lint_imports(copy_of_the_code)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout, result.stdout
    breach = module.removesuffix(".py").replace("/", ".") + " -> " + bad_import.removeprefix("import ")
    assert breach in result.stdout.split("Broken contracts")[1], result.stdout
