"""The sign-in timeline as SVG geometry, drawn server-side (no script, no inline style: CSP)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 10, 26


@dataclass
class Bar:
    x: float
    width: float
    ok_y: float
    ok_height: float
    failed_y: float
    failed_height: float
    start: datetime
    successes: int
    failures: int


def _buckets(since: datetime, until: datetime, step: timedelta) -> list[datetime]:
    tz = timezone.get_current_timezone()
    start = timezone.localtime(since, tz).replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        start = start.replace(hour=0)
    found = []
    while start < until and len(found) < 400:
        found.append(start)
        start += step
    return found


def _nice_ceiling(value: int) -> int:
    for nice in (4, 8, 10, 20, 40, 50, 100, 200, 400, 500, 1000, 2000, 5000, 10000):
        if value <= nice:
            return nice
    return value


def timeline(*, counts: dict, since: datetime, until: datetime, step: timedelta) -> dict:
    """`counts`: bucket start -> (successes, failures). Returns what the template draws."""
    starts = _buckets(since, until, step)
    top = _nice_ceiling(max([s + f for s, f in counts.values()] or [0]))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(starts), 1)
    bars = []
    for index, start in enumerate(starts):
        successes, failures = counts.get(start, (0, 0))
        ok_height = plot_height * successes / top
        failed_height = plot_height * failures / top
        baseline = TOP + plot_height
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.1, 2),
                width=round(max(slot * 0.8, 1), 2),
                ok_y=round(baseline - ok_height, 2),
                ok_height=round(ok_height, 2),
                failed_y=round(baseline - ok_height - failed_height, 2),
                failed_height=round(failed_height, 2),
                start=start,
                successes=successes,
                failures=failures,
            )
        )
    every = max(1, len(bars) // 8)
    hourly = step < timedelta(days=1)
    labels = [
        {
            "x": round(bar.x + bar.width / 2, 2),
            "text": bar.start.strftime("%d.%m %H:%M" if hourly else "%d.%m"),
        }
        for bar in bars[::every]
    ]
    grid = [
        {"y": round(TOP + plot_height - plot_height * share, 2), "value": round(top * share)}
        for share in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "label_y": HEIGHT - 8,
        "bars": bars,
        "labels": labels,
        "grid": grid,
        "hourly": hourly,
        "successes": sum(bar.successes for bar in bars),
        "failures": sum(bar.failures for bar in bars),
    }
