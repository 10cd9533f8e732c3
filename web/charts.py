"""The sign-in timeline as SVG geometry, drawn server-side (no script, no inline style: CSP)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

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


def bars(*, items: list[tuple[str, Decimal]], limit: int = 31) -> dict:
    """A bar per (label, value), at most `limit`, scaled to the largest; negative values (more
    refunded than sold) are drawn as zero. Returns what the report template draws."""
    items = items[:limit]
    top = max([float(value) for _, value in items] + [0.0])
    ceiling = _nice_money(top)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(items), 1)
    baseline = TOP + plot_height
    drawn = []
    for index, (label, value) in enumerate(items):
        height = plot_height * max(float(value), 0.0) / ceiling if ceiling else 0
        drawn.append(
            {
                "x": round(LEFT + index * slot + slot * 0.12, 2),
                "width": round(max(slot * 0.76, 1), 2),
                "y": round(baseline - height, 2),
                "height": round(height, 2),
                "label": label,
                "value": value,
            }
        )
    every = max(1, len(drawn) // 10)
    labels = [
        {"x": round(bar["x"] + bar["width"] / 2, 2), "text": str(bar["label"])[:12]} for bar in drawn[::every]
    ]
    grid = [
        {"y": round(TOP + plot_height - plot_height * share, 2), "value": f"{ceiling * share:g}"}
        for share in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "label_y": HEIGHT - 8,
        "bars": drawn,
        "labels": labels,
        "grid": grid,
    }


def _nice_money(value: float) -> float:
    if value <= 0:
        return 0.0
    scale = 1.0
    while value > 10 * scale:
        scale *= 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * scale:
            return step * scale
    return value
