"""Time zone arithmetic and formatting for people. The model never converts times: this module does.

On the wire every instant is UTC ("...Z"); on screen it is the user's wall time with the zone named.

- Zones are IANA zones only (the tzdata package's list): an alias such as US/Eastern or Asia/Calcutta becomes its
  canonical name (America/New_York, Asia/Kolkata), and the UTC aliases (Etc/UTC, GMT, Zulu...) become UTC, as
  browsers name it. Files of the zone directory that are not zones (localtime, posixrules, Factory, right/...,
  posix/...) are refused.
- Dates are 1900-01-01 to 2999-12-31 (EARLIEST_DATE, LATEST_DATE): beyond that a date is refused in words, so no
  date arithmetic can overflow.
- Times are whole minutes: seconds and fractions are dropped (15:00:30 is 15:00), because Cal.com's slots start on
  whole minutes and a person only ever sees and confirms HH:MM.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calbot.errors import CalbotError

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)
# The instants those dates span in UTC: what calbot asks Cal.com about stays within them, whatever the user's zone.
EARLIEST_INSTANT = datetime.combine(EARLIEST_DATE, time(0), tzinfo=UTC)
LATEST_INSTANT = datetime.combine(LATEST_DATE, time(23, 59, 59), tzinfo=UTC)


class TimeInputError(CalbotError, ValueError):
    """A date or time the user (or the model) gave that cannot be used; `str()` is a plain sentence."""


class UnknownTimeZoneError(TimeInputError):
    pass


class NonexistentLocalTimeError(TimeInputError):
    """The wall time falls in a spring-forward gap: clocks skip it, so it never happens."""


class AmbiguousLocalTimeError(TimeInputError):
    """The wall time happens twice (fall-back overlap); `options` holds both instants so the user can pick."""

    def __init__(self, message: str, options: list[datetime]):
        super().__init__(message)
        self.options = options


_LOCAL_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")
_OFFSET_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|z|[+-]\d{2}:?\d{2})$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_CLOCK_RE = re.compile(r"^(\d{2}):(\d{2})(Z|z|[+-]\d{2}:?\d{2})?$")

# In tzdata's list as a zone, but it names no place (its abbreviation is "-00"): never a user's zone.
_NOT_PLACES = frozenset({"Factory"})
# Zones that are UTC under another name: ECMAScript (and so every browser) calls them all "UTC".
_UTC_ZONES = frozenset({"Etc/UTC", "Etc/GMT"})


def _tzdata_zi() -> str | None:
    """tzdata's compact source (Zone and Link lines): the pinned tzdata package's, else the system's."""
    try:
        from importlib import resources

        return resources.files("tzdata").joinpath("zoneinfo", "tzdata.zi").read_text(encoding="utf-8")
    except (ImportError, OSError):
        pass
    for base in zoneinfo.TZPATH:
        path = Path(base, "tzdata.zi")
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


@functools.cache
def _iana_names() -> dict[str, str]:
    """Every IANA zone name -> its canonical name: a zone maps to itself, a link (US/Eastern, Asia/Calcutta) to
    the zone it names, UTC's aliases to "UTC". Names that are files of the zone directory but not IANA zones
    (localtime, posixrules, right/..., posix/...) are not in it."""
    source = _tzdata_zi()
    if source is None:  # no tzdata list anywhere: the loadable names minus the known non-zones, without aliases
        names = {key: key for key in zoneinfo.available_timezones()
                 if not key.startswith(("posix/", "right/")) and key not in ("localtime", "posixrules")}
    else:
        zones: set[str] = set()
        links: dict[str, str] = {}
        for line in source.splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "Z":
                zones.add(fields[1])
            elif len(fields) >= 3 and fields[0] == "L":
                links[fields[2]] = fields[1]
        names = {zone: zone for zone in zones}
        for link, target in links.items():
            for _ in range(8):  # links name zones; follow a chain a few steps should one appear
                if target not in links:
                    break
                target = links[target]
            if target in zones:
                names[link] = target
    names = {name: ("UTC" if key in _UTC_ZONES else key) for name, key in names.items() if key not in _NOT_PLACES}
    names["UTC"] = "UTC"
    return names


def get_zone(name: str) -> ZoneInfo:
    """The IANA zone called `name` under its canonical name (US/Eastern -> America/New_York), or
    UnknownTimeZoneError with a sentence a person can act on. Every zone calbot takes (CALBOT_TIMEZONE, the
    browser's, set_time_zone, the Cal.com host's) comes through here, so only IANA zones reach Cal.com."""
    text = name.strip() if isinstance(name, str) else ""
    key = _iana_names().get(text)
    try:
        if key is not None:
            return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    raise UnknownTimeZoneError(f"{text!r} is not a time zone I know; use an IANA name such as "
                               "Europe/Berlin or America/New_York.")


_ZONE_ALIASES = {"utc": "UTC", "gmt": "UTC", "z": "UTC", "zulu": "UTC"}
_CITY_AREAS = {"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}


@functools.cache
def _zone_index() -> dict[str, str]:
    """Lower-cased IANA names and their last component ("berlin", "new york", "calcutta") -> the canonical name.
    Canonical names are indexed before aliases, so a city keeps its own zone."""
    index: dict[str, str] = {}
    names = _iana_names()
    for name in sorted(names, key=lambda n: (names[n] != n, n)):
        key = names[name]
        index.setdefault(name.lower(), key)
        if "/" in name and name.split("/")[0] in _CITY_AREAS:
            index.setdefault(name.rsplit("/", 1)[1].replace("_", " ").lower(), key)
    return index


def resolve_zone(text: str) -> ZoneInfo:
    """A zone from an IANA name in any case ("europe/berlin") or a city that names one ("Berlin", "New York").

    Raises UnknownTimeZoneError with a sentence the model can act on (ask for a city or an IANA name)."""
    cleaned = " ".join((text or "").strip().split())
    try:
        return get_zone(cleaned)
    except UnknownTimeZoneError:
        pass
    index = _zone_index()
    lowered = cleaned.lower()
    key = (_ZONE_ALIASES.get(lowered) or index.get(lowered) or index.get(lowered.replace(" ", "_"))
           or index.get(lowered.replace("_", " ")))
    if key is None:
        raise UnknownTimeZoneError(f"{cleaned!r} is not a time zone or a city I can place in one; use an IANA "
                                   "name such as Europe/Berlin or America/New_York.")
    return get_zone(key)


def _zone(tz: str | tzinfo) -> tzinfo:
    return get_zone(tz) if isinstance(tz, str) else tz


def zone_name(tz: str | tzinfo) -> str:
    return tz if isinstance(tz, str) else getattr(tz, "key", None) or str(tz)


def in_supported_range(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def out_of_range(what: str, value: str) -> TimeInputError:
    return TimeInputError(f"The {what} {value!r} is outside the dates calbot works with "
                          f"({EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}).")


def parse_date(text: str, what: str = "date") -> date:
    """A calendar date written YYYY-MM-DD; impossible dates (2026-02-30) and dates outside EARLIEST_DATE ..
    LATEST_DATE are refused in plain words."""
    value = (text or "").strip()
    match = _DATE_RE.match(value)
    if not match:
        raise TimeInputError(f"The {what} {value!r} is not in the form YYYY-MM-DD (for example 2026-11-24).")
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise TimeInputError(f"The {what} {value!r} does not exist in the calendar.") from None
    if not in_supported_range(day):
        raise out_of_range(what, value)
    return day


def _short_offset(dt: datetime) -> str:
    offset = dt.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")


def localize(wall: datetime, tz: str | tzinfo) -> datetime:
    """Attach the zone to a naive wall time, refusing times that do not exist or happen twice."""
    zone = _zone(tz)
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    # A wall time that does not survive a round trip through UTC is in a gap.
    roundtrip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if roundtrip != wall.replace(tzinfo=None, fold=0):
        before = (wall - timedelta(hours=3)).replace(tzinfo=zone)
        after = (wall + timedelta(hours=3)).replace(tzinfo=zone)
        raise NonexistentLocalTimeError(
            f"{wall:%H:%M} on {_day(wall)} does not exist in {zone_name(zone)}: the clocks jump forward "
            f"from {_short_offset(before)} to {_short_offset(after)} that night, skipping it. Pick another time.")
    if first.utcoffset() != second.utcoffset():
        options = [first.astimezone(UTC), second.astimezone(UTC)]
        raise AmbiguousLocalTimeError(
            f"{wall:%H:%M} on {_day(wall)} happens twice in {zone_name(zone)} because the clocks go back "
            f"that night: first at {_abbreviation(first)} ({_short_offset(first)}), then at "
            f"{_abbreviation(second)} ({_short_offset(second)}). Ask which one is meant and give it with its offset, for example "
            f"{first.strftime('%Y-%m-%dT%H:%M')}{first.strftime('%z')[:3]}:{first.strftime('%z')[3:]}.",
            options)
    return first


def _check_range(value: str) -> None:
    """Refuse a start whose calendar date lies outside EARLIEST_DATE..LATEST_DATE (impossible dates are left to
    the parser, which says so)."""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return
    if not in_supported_range(day):
        raise out_of_range("time", value)


def parse_start(text: str, tz: str | tzinfo) -> datetime:
    """Turn `YYYY-MM-DDTHH:MM` (a wall time in `tz`) or ISO 8601 with an offset or Z into an aware UTC datetime.

    Seconds and fractions are dropped: the result is the whole minute the text names."""
    value = (text or "").strip()
    if _OFFSET_RE.match(value):
        _check_range(value)
        try:
            given = datetime.fromisoformat(value.replace("z", "Z"))
            return given.replace(second=0, microsecond=0).astimezone(UTC)
        except (ValueError, OverflowError):
            raise TimeInputError(f"The time {value!r} does not exist in the calendar.") from None
    match = _LOCAL_RE.match(value)
    if not match:
        raise TimeInputError(f"The time {value!r} is not in the form YYYY-MM-DDTHH:MM (for example "
                             "2026-11-24T15:00, in the user's time zone).")
    _check_range(value)
    try:
        datetime(*(int(g) for g in match.groups()[:5]), int(match[6] or 0))  # the seconds must exist too
        wall = datetime(*(int(g) for g in match.groups()[:5]))
        return localize(wall, tz).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, TimeInputError):
            raise
        raise TimeInputError(f"The time {value!r} does not exist in the calendar.") from None


def start_of_day(day: date, tz: str | tzinfo) -> datetime:
    """The first instant (UTC) of the local calendar day; days that start in a DST gap start when it ends."""
    zone = _zone(tz)
    local = datetime.combine(day, time(0), tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).date() != day:  # midnight skipped (e.g. America/Santiago): the day starts later
        utc = datetime.combine(day, time(1), tzinfo=zone).astimezone(UTC)
        while (utc - timedelta(minutes=15)).astimezone(zone).date() == day:
            utc -= timedelta(minutes=15)
    return utc


@dataclass(frozen=True)
class UtcRange:
    start: datetime
    end: datetime  # exclusive

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def local_days_range(first: date, last: date, tz: str | tzinfo) -> UtcRange:
    """The UTC instants covering local days first..last, the last day included (23- and 25-hour days too)."""
    for day in (first, last):
        if not in_supported_range(day):
            raise out_of_range("date", day.isoformat())
    if last < first:
        raise TimeInputError(f"The end date {last.isoformat()} is before the start date {first.isoformat()}.")
    return UtcRange(start_of_day(first, tz), start_of_day(last + timedelta(days=1), tz))


def local_date(instant: datetime, tz: str | tzinfo) -> date:
    return instant.astimezone(_zone(tz)).date()


def today(tz: str | tzinfo, now: datetime) -> date:
    return local_date(now, tz)


def to_utc_iso(instant: datetime) -> str:
    """`2026-11-24T14:00:00Z`: what Cal.com expects on the wire."""
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are never sent: attach a zone first")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant from Cal.com (Z or offset, with or without milliseconds) as aware UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def local_wall(instant: datetime, tz: str | tzinfo) -> str:
    """`2026-11-24T15:00`: the wall-time form the model uses in tool arguments."""
    return instant.astimezone(_zone(tz)).strftime("%Y-%m-%dT%H:%M")


def zone_abbreviation(local: datetime) -> str:
    """`CET`, or `UTC+3` where the zone has no letters ("+03" reads better as UTC+3)."""
    name = local.tzname() or ""
    return _short_offset(local) if not name or name[0] in "+-" else name


_abbreviation = zone_abbreviation


def _day(local: datetime) -> str:
    return f"{local:%A} {local.day} {local:%B %Y}"


def format_when(instant: datetime, tz: str | tzinfo) -> str:
    """`Tuesday 24 November 2026, 15:00 CET (Europe/Berlin)`: weekday, date, time and the zone named."""
    zone = _zone(tz)
    local = instant.astimezone(zone)
    return f"{_day(local)}, {local:%H:%M} {_abbreviation(local)} ({zone_name(zone)})"


def format_time(instant: datetime, tz: str | tzinfo) -> str:
    """`15:00`: the local clock time alone (for slot lists under a day heading)."""
    return instant.astimezone(_zone(tz)).strftime("%H:%M")


def format_window(start: datetime, end: datetime, tz: str | tzinfo) -> str:
    """A free window of one local day: `10:00-18:00`; `18:00-24:00` when it runs to the day's end; `all day` when
    it covers the whole day (23- and 25-hour days too); `22:00-02:00 (next day)` when it runs on past midnight."""
    zone = _zone(tz)
    first, last = start.astimezone(zone), end.astimezone(zone)
    day = first.date()
    next_day = start_of_day(day + timedelta(days=1), zone)
    if start == start_of_day(day, zone) and end == next_day:
        return "all day"
    if end == next_day:
        return f"{first:%H:%M}-24:00"
    if last.date() == day:
        return f"{first:%H:%M}-{last:%H:%M}"
    later = "next day" if last.date() == day + timedelta(days=1) else f"{last:%A} {last.day} {last:%B}"
    return f"{first:%H:%M}-{last:%H:%M} ({later})"


def clock_instants(day: date, text: str, tz: str | tzinfo) -> list[datetime]:
    """The UTC instants at which the local clock reads `text` (HH:MM, or HH:MM with an offset or Z) on `day`:
    one, or two on a fall-back night when that clock time happens twice (with an offset, the one it names).
    A clock time skipped by a spring-forward change raises NonexistentLocalTimeError."""
    value = (text or "").strip()
    match = _CLOCK_RE.match(value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise TimeInputError(f"{value!r} is not a time of day (use HH:MM, 24-hour, for example 15:00).")
    if not in_supported_range(day):
        raise out_of_range("date", day.isoformat())
    if match[3]:
        try:
            return [datetime.fromisoformat(f"{day.isoformat()}T{value.replace('z', 'Z')}").astimezone(UTC)]
        except (ValueError, OverflowError):
            raise TimeInputError(f"{value!r} is not a time of day with a valid offset.") from None
    wall = datetime.combine(day, time(int(match[1]), int(match[2])))
    try:
        return [localize(wall, tz).astimezone(UTC)]
    except AmbiguousLocalTimeError as exc:
        return list(exc.options)


def format_span(start: datetime, end: datetime, tz: str | tzinfo) -> str:
    """`Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin)`; a span crossing midnight names both days."""
    zone = _zone(tz)
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.date() != (last - timedelta(microseconds=1)).date():
        return f"{format_when(start, zone)} – {format_when(end, zone)}"
    abbreviation = _abbreviation(first)
    if _abbreviation(last) != abbreviation:  # a DST change inside the meeting
        abbreviation = f"{abbreviation}/{_abbreviation(last)}"
    return f"{_day(first)}, {first:%H:%M}–{last:%H:%M} {abbreviation} ({zone_name(zone)})"
