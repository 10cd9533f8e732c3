"""Local time of a chain and its stores: IANA zones, and the bounds of a local day.

Timestamps are stored in UTC; "today", receipts, shifts, reports and day filters use the store's
zone (or the tenant's where no one store applies). This module is the one place that turns a
local date into the UTC instants it spans.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext

DEFAULT_TIME_ZONE = "Europe/Helsinki"


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_time_zone(value: str) -> None:
    """Refuse anything but an IANA zone name (`Europe/Helsinki`, `America/New_York`, `UTC`)."""
    if not isinstance(value, str) or value not in _known():
        raise ValidationError(
            gettext("Not an IANA time zone name (such as Europe/Helsinki)."), code="invalid"
        )


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def zone_of(place) -> ZoneInfo:
    """The zone of a store or a tenant (anything with a `time_zone` name)."""
    return zone(getattr(place, "time_zone", "") or DEFAULT_TIME_ZONE)


def local_today(place, now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), zone_of(place)).date()


def local_time(moment: datetime, place) -> datetime:
    return timezone.localtime(moment, zone_of(place))


def day_bounds(day: date, place) -> tuple[datetime, datetime]:
    """The UTC-aware instants [start, end) of `day` in the place's zone (23, 24 or 25 hours)."""
    tz = zone_of(place)
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


def days_bounds(first: date, last: date, place) -> tuple[datetime, datetime]:
    """[start of `first`, end of `last`) in the place's zone."""
    return day_bounds(first, place)[0], day_bounds(last, place)[1]
