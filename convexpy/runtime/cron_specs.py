"""Cron specs: the Python ``crons.py`` API, the specs a TypeScript ``crons.ts`` exports, and when each runs next.

Both languages end in the same :class:`CronSpec` (Convex's shapes: a canonical
``udfPath``, the arguments, and a schedule normalized as the reference backend
stores it: intervals in seconds, clock schedules as cron strings' fields,
``weekly``'s day as 0-6 from Sunday). :func:`next_run` computes the next time
as Convex does: intervals anchored to the previous scheduled time (the first
run at registration), clock and cron schedules at the first matching minute
strictly after, in UTC; occurrences already past are skipped, never run in a
burst. Cron strings are parsed by ``croniter``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from croniter import croniter

from ..errors import InvalidValueError
from ..values import json as cjson
from ..values.model import normalize, size_of
from .paths import parse_path

DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_IDENTIFIER = re.compile(r"^[ -~]*$")
MAX_ARGS_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CronSpec:
    identifier: str
    udf_path: str
    """Canonical: ``module.js:name``."""
    args: dict[str, Any]
    schedule: dict[str, Any]
    """Normalized: ``{type: interval, seconds}``, ``{type: cron, cronExpr}``, or hourly/daily/weekly/monthly."""

    def to_json(self) -> dict[str, Any]:
        return {"udfPath": self.udf_path, "udfArgs": [cjson.to_json(self.args)], "cronSchedule": self.schedule}


def _integer(value: Any, low: int, high: int, message: str) -> int:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or int(value) != value or not low <= value <= high:
        raise InvalidValueError(message)
    return int(value)


def _minute(value: Any) -> int | None:
    return None if value is None else _integer(value, 0, 59, "Minute of hour must be an integer from 0 to 59")


def _hour(value: Any) -> int:
    return _integer(value, 0, 23, "Hour of day must be an integer from 0 to 23")


def normalize_schedule(schedule: dict[str, Any]) -> dict[str, Any]:
    """A schedule as ``crons.ts`` exports it (or ``crons.py`` builds it), checked and normalized."""
    kind = schedule.get("type") if isinstance(schedule, dict) else None
    if kind == "interval":
        given = [unit for unit in ("seconds", "minutes", "hours") if schedule.get(unit) is not None]
        if len(given) != 1:
            raise InvalidValueError("Must specify one of seconds, minutes, or hours")
        count = schedule[given[0]]
        if not isinstance(count, (int, float)) or isinstance(count, bool) or int(count) != count or count <= 0:
            raise InvalidValueError("Interval must be an integer greater than 0")
        return {"type": "interval", "seconds": int(count) * {"seconds": 1, "minutes": 60, "hours": 3600}[given[0]]}
    if kind == "hourly":
        return {"type": "hourly", "minuteUTC": _minute(schedule.get("minuteUTC"))}
    if kind == "daily":
        return {"type": "daily", "hourUTC": _hour(schedule.get("hourUTC")), "minuteUTC": _minute(schedule.get("minuteUTC"))}
    if kind == "weekly":
        day = schedule.get("dayOfWeek")
        if isinstance(day, str) and day.lower() in DAYS:
            day = DAYS.index(day.lower())
        elif not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise InvalidValueError('Day of week must be a string like "monday".')
        return {"type": "weekly", "dayOfWeek": day, "hourUTC": _hour(schedule.get("hourUTC")),
                "minuteUTC": _minute(schedule.get("minuteUTC"))}
    if kind == "monthly":
        day = _integer(schedule.get("day"), 1, 31, "Day of month must be an integer from 1 to 31")
        return {"type": "monthly", "day": day, "hourUTC": _hour(schedule.get("hourUTC")), "minuteUTC": _minute(schedule.get("minuteUTC"))}
    if kind == "cron":
        expression = schedule.get("cron", schedule.get("cronExpr"))
        if not isinstance(expression, str) or len(expression.split()) != 5 or not croniter.is_valid(expression):
            raise InvalidValueError(f"The cron spec {expression!r} is not a valid 5-field cron expression (UTC)")
        return {"type": "cron", "cronExpr": expression}
    raise InvalidValueError(f"Unknown cron schedule {schedule!r}")


def cron_expression(schedule: dict[str, Any]) -> str | None:
    """The clock schedules (and cron) as a cron string; None for intervals. An omitted minute is 0."""
    minute = schedule.get("minuteUTC") or 0
    kind = schedule["type"]
    if kind == "hourly":
        return f"{minute} * * * *"
    if kind == "daily":
        return f"{minute} {schedule['hourUTC']} * * *"
    if kind == "weekly":
        return f"{minute} {schedule['hourUTC']} * * {schedule['dayOfWeek']}"
    if kind == "monthly":
        return f"{minute} {schedule['hourUTC']} {schedule['day']} * *"
    if kind == "cron":
        return schedule["cronExpr"]
    return None


def _after(expression: str, ms: float) -> float:
    """The first occurrence of ``expression`` strictly after ``ms`` (UTC), in ms."""
    start = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return croniter(expression, start).get_next(float) * 1000


def first_run(schedule: dict[str, Any], now_ms: float) -> float:
    """When a newly registered cron first runs: an interval at once, others at their next time."""
    expression = cron_expression(schedule)
    return now_ms if expression is None else _after(expression, now_ms)


def next_run(schedule: dict[str, Any], scheduled_ms: float, now_ms: float) -> tuple[float, int]:
    """The run after the one scheduled at ``scheduled_ms``, and how many runs before ``now_ms`` are
    skipped to reach it (catch-up runs one late occurrence, then skips the rest)."""
    expression = cron_expression(schedule)
    if expression is None:
        period = schedule["seconds"] * 1000
        following = scheduled_ms + period
        if following >= now_ms:
            return following, 0
        skipped = math.ceil((now_ms - following) / period)
        return following + skipped * period, skipped
    following = _after(expression, scheduled_ms)
    skipped = 0
    while following < now_ms:
        skipped += 1
        if skipped > 10_000:  # a long downtime of a frequent schedule: jump, without counting each
            return _after(expression, now_ms), skipped
        following = _after(expression, following)
    return following, skipped


def spec_from_export(identifier: str, exported: dict[str, Any]) -> CronSpec:
    """One entry of ``crons.ts``'s ``export()``: ``{name, args: [args], schedule}``."""
    if not isinstance(identifier, str) or not _IDENTIFIER.match(identifier):
        raise InvalidValueError(f"Invalid cron identifier {identifier!r}: use ASCII letters that are not control characters")
    args = exported.get("args") or [{}]
    values = cjson.from_json(args[0]) if args else {}
    if not isinstance(values, dict):
        raise InvalidValueError(f"The arguments of cron {identifier!r} must be an object")
    if size_of(values) > MAX_ARGS_BYTES:
        raise InvalidValueError(f"The arguments of cron {identifier!r} are too large (limit: 1 MiB)")
    return CronSpec(identifier, parse_path(exported["name"]).canonical, values, normalize_schedule(exported["schedule"]))


class Crons:
    """``crons = cron_jobs()`` in a functions folder's ``crons.py``: the same methods and argument shapes
    as ``cronJobs()`` in ``crons.ts`` (``interval("id", {"minutes": 5}, "module:fn", args)``)."""

    is_crons = True

    def __init__(self) -> None:
        self._entries: dict[str, tuple[dict[str, Any], Any, dict[str, Any]]] = {}

    def _add(self, identifier: str, schedule: dict[str, Any], function: Any, args: dict[str, Any] | None) -> None:
        if identifier in self._entries:
            raise InvalidValueError(f"Cron identifier registered twice: {identifier}")
        if not isinstance(identifier, str) or not _IDENTIFIER.match(identifier):
            raise InvalidValueError(f"Invalid cron identifier {identifier!r}: use ASCII letters that are not control characters")
        normalize_schedule(schedule)  # a bad schedule fails as crons.py loads
        self._entries[identifier] = (schedule, function, normalize(args or {}))

    def specs(self) -> dict[str, CronSpec]:
        """The specs, once every module is loaded (a function's path is known only then)."""
        found = {}
        for identifier, (schedule, function, args) in self._entries.items():
            name = getattr(function, "path", function)
            if not isinstance(name, str):
                raise InvalidValueError(f"Cron {identifier!r}: give a function of the functions folder or its \"module:fn\" path")
            found[identifier] = spec_from_export(identifier, {"name": name, "args": [cjson.to_json(args)], "schedule": schedule})
        return found

    def interval(self, identifier: str, schedule: dict[str, int], function: Any, args: dict[str, Any] | None = None) -> None:
        self._add(identifier, {"type": "interval", **schedule}, function, args)

    def hourly(self, identifier: str, schedule: Any, function: Any = None, args: dict[str, Any] | None = None) -> None:
        if not isinstance(schedule, dict):  # hourly(id, fn, args): the minute left to the deployment
            schedule, function, args = {}, schedule, function
        self._add(identifier, {"type": "hourly", **schedule}, function, args)

    def daily(self, identifier: str, schedule: dict[str, int], function: Any, args: dict[str, Any] | None = None) -> None:
        self._add(identifier, {"type": "daily", **schedule}, function, args)

    def weekly(self, identifier: str, schedule: dict[str, Any], function: Any, args: dict[str, Any] | None = None) -> None:
        self._add(identifier, {"type": "weekly", **schedule}, function, args)

    def monthly(self, identifier: str, schedule: dict[str, int], function: Any, args: dict[str, Any] | None = None) -> None:
        self._add(identifier, {"type": "monthly", **schedule}, function, args)

    def cron(self, identifier: str, expression: str, function: Any, args: dict[str, Any] | None = None) -> None:
        self._add(identifier, {"type": "cron", "cron": expression}, function, args)


def cron_jobs() -> Crons:
    """The crons of a functions folder: ``crons = cron_jobs()`` in ``crons.py``, then ``crons.interval(...)``."""
    return Crons()
