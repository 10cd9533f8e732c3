"""Where the machine's CPU goes during a phase: each process group's CPU time per request.

Read from /proc before and after a phase (user + system time, with the time of children already
reaped, so PostgreSQL backends and gunicorn workers that ended in the phase still count, less what
they had spent before it). The
groups: Kassa's and bare's gunicorn (by their port on the command line), PostgreSQL (the
embedded server's processes), Redis, the Celery worker. An external database or Redis on another
machine shows as 0 here. This is how the worker's new connection per task was found: 8 ms of
PostgreSQL's CPU a sale, beside the webhook delivery's own.
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
GROUPS = ("kassa", "bare", "postgres", "redis", "celery")


def _group(command: str, ports: dict[str, int]) -> str | None:
    if "gunicorn" in command:
        for side, port in ports.items():
            if f":{port}" in command:
                return side
        return None
    if command.startswith("postgres") or "/postgres " in command or "postgres:" in command:
        return "postgres"
    if "redis-server" in command:
        return "redis"
    if "celery" in command and " worker" in command:
        return "celery"
    return None


def process_seconds(pid: int | str) -> float:
    """A process's CPU in seconds: user and system time, with its reaped children's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICK


def snapshot(ports: dict[str, int]) -> dict[int, tuple[str, float]]:
    """Every process of a group: (group, seconds of CPU including reaped children)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            seconds = process_seconds(entry.name)
        except OSError:  # it ended meanwhile
            continue
        group = _group(command, ports)
        if group is not None:
            found[int(entry.name)] = (group, seconds)
    return found


def per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request of each group between two snapshots."""
    spent = dict.fromkeys(GROUPS, 0.0)
    for pid, (group, seconds) in after.items():
        spent[group] += seconds - before.get(pid, (group, 0.0))[1]
    # A process that ended in the phase is in its parent's reaped time with its whole life's CPU
    # (a database connection closed at CONN_MAX_AGE carries a minute of earlier phases): take off
    # what it had spent before the phase began.
    for pid, (group, seconds) in before.items():
        if pid not in after:
            spent[group] -= seconds
    return {group: 1000 * seconds / max(requests, 1) for group, seconds in spent.items()}
