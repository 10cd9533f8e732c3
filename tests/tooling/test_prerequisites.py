"""`make test` on a fresh machine: what it needs beyond Python is installed, or named in one line.

tools/test-prerequisites installs Debian's chromium, pgbouncer and wrk as root with apt-get; without any
of them it stops at once. These tests run it (and `make test`) with a PATH that holds bash and
nothing else, chromium, pgbouncer and wrk paths that do not exist, and, when run as root, as the
`nobody` user.
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "test-prerequisites"
REFUSAL = (
    "make test needs Chromium ({path}) for the browser tests, PgBouncer ({pgbouncer}) and wrk ({wrk}): "
    "run  sudo apt-get install -y chromium fonts-dejavu-core pgbouncer wrk"
)
NOBODY = 65534


@pytest.fixture
def bare_bin():
    """A PATH directory holding only bash (the script's interpreter), readable by anyone.

    Not under pytest's temporary directories: those are private to their user, and `nobody`
    must reach this one.
    """
    directory = Path(tempfile.mkdtemp(prefix="kassa-bare-bin-"))
    directory.chmod(0o755)
    (directory / "bash").symlink_to(shutil.which("bash"))
    yield directory
    shutil.rmtree(directory)


def fake_apt_get(directory: Path, record: Path) -> None:
    """An apt-get that logs its arguments and, on install, provides $KASSA_CHROMIUM, $KASSA_PGBOUNCER and
    $KASSA_WRK."""
    script = directory / "apt-get"
    script.write_text(
        f"#!{shutil.which('bash')}\n"
        f'echo "$*" >> {record}\n'
        'if [ "$1" = install ]; then printf "#!/bin/sh\\n" > "$KASSA_CHROMIUM"; '
        'printf "#!/bin/sh\\n" > "$KASSA_PGBOUNCER"; '
        'printf "#!/bin/sh\\n" > "$KASSA_WRK"; '
        f'{shutil.which("chmod")} 755 "$KASSA_CHROMIUM" "$KASSA_PGBOUNCER" "$KASSA_WRK"; fi\n'
    )
    script.chmod(0o755)


def pgbouncer_of(chromium: Path) -> Path:
    return chromium.with_name(chromium.name + "-pgbouncer")


def wrk_of(chromium: Path) -> Path:
    return chromium.with_name(chromium.name + "-wrk")


def refusal(chromium: Path) -> str:
    return REFUSAL.format(path=chromium, pgbouncer=pgbouncer_of(chromium), wrk=wrk_of(chromium))


def run(command: list[str], path: Path, chromium: Path, user: int | None = None) -> tuple[int, str, float]:
    env = {"PATH": str(path), "KASSA_CHROMIUM": str(chromium), "KASSA_PGBOUNCER": str(pgbouncer_of(chromium)),
           "KASSA_WRK": str(wrk_of(chromium)), "HOME": "/", "LC_ALL": "C"}  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        user=user,
        group=user,
        extra_groups=[] if user is not None else None,
    )
    return result.returncode, result.stderr, time.monotonic() - started


def test_without_chromium_and_apt_get_it_stops_at_once_with_one_line(bare_bin, tmp_path):
    missing = tmp_path / "no-chromium"
    code, stderr, took = run([str(SCRIPT)], bare_bin, missing)
    assert code != 0
    assert stderr.splitlines() == [refusal(missing)]
    assert took < 60


def test_not_root_it_never_calls_apt_get_and_stops_with_one_line(bare_bin, tmp_path):
    called = bare_bin / "apt-get-called"
    fake_apt_get(bare_bin, called)
    bare_bin.chmod(0o777)  # `nobody` could write the record, so its absence means not called
    missing = tmp_path / "no-chromium"
    user = NOBODY if os.geteuid() == 0 else None
    code, stderr, took = run([str(SCRIPT)], bare_bin, missing, user=user)
    assert code != 0
    assert stderr.splitlines() == [refusal(missing)]
    assert not called.exists()
    assert took < 60


def test_as_root_with_apt_get_it_installs_chromium_fonts_pgbouncer_and_wrk(bare_bin, tmp_path):
    called = tmp_path / "apt-get-called"
    fake_apt_get(bare_bin, called)
    chromium = tmp_path / "chromium"
    code, stderr, _ = run([str(SCRIPT)], bare_bin, chromium)
    if os.geteuid() == 0:
        assert (code, stderr) == (0, "")
        assert called.read_text().splitlines() == [
            "update -qq",
            "install -y -qq chromium fonts-dejavu-core pgbouncer wrk",
        ]
    else:  # only root installs; anyone else is told the command
        assert code != 0 and stderr.splitlines() == [refusal(chromium)]
        assert not called.exists()


def test_with_chromium_pgbouncer_and_wrk_present_it_passes_silently(bare_bin, tmp_path):
    chromium = tmp_path / "chromium"
    for present in (chromium, pgbouncer_of(chromium), wrk_of(chromium)):
        present.write_text("#!/bin/sh\n")
        present.chmod(0o755)
    code, stderr, _ = run([str(SCRIPT)], bare_bin, chromium)
    assert (code, stderr) == (0, "")


def test_with_wrk_alone_missing_it_stops_with_one_line(bare_bin, tmp_path):
    chromium = tmp_path / "chromium"
    for present in (chromium, pgbouncer_of(chromium)):
        present.write_text("#!/bin/sh\n")
        present.chmod(0o755)
    code, stderr, _ = run([str(SCRIPT)], bare_bin, chromium)  # no apt-get on the PATH
    assert code != 0
    assert stderr.splitlines() == [refusal(chromium)]


def test_make_test_stops_before_the_venv_and_the_tests(bare_bin, tmp_path):
    """The whole `make test`: our one line, then make's own `*** Error` trailer, nothing more."""
    missing = tmp_path / "no-chromium"
    # A venv path of its own and no Python: were make to go on, it could touch nothing shared.
    command = [
        shutil.which("make"),
        "--no-print-directory",
        "test",
        f"VENV={tmp_path / 'venv'}",
        "PYTHON=false",
    ]
    code, stderr, took = run(command, bare_bin, missing)
    assert code != 0
    ours = [line for line in stderr.splitlines() if not line.startswith("make: ***")]
    assert ours == [refusal(missing)]
    assert not (tmp_path / "venv").exists()
    assert took < 60


def test_make_test_and_ci_check_the_prerequisites_before_anything_else():
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert planned[0] == "tools/test-prerequisites"
    assert planned[-1].endswith("-m pytest -n 2 --dist loadfile")
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make ")]
    assert ci == ["make test-prerequisites", "make lint", "make test"]
