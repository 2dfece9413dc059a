"""Pure unit tests for calbot.timezones. Expected instants are worked out by hand from the zones' offsets:

- Europe/Berlin: CET = UTC+1 in winter, CEST = UTC+2 in summer (2026: CEST from 29 Mar 01:00Z to 25 Oct 01:00Z).
- America/New_York: EST = UTC-5, EDT = UTC-4 (2026: EDT from 8 Mar 07:00Z to 1 Nov 06:00Z).
- Asia/Kolkata: IST = UTC+5:30 all year.
- Australia/Lord_Howe: UTC+10:30 standard, UTC+11 in summer (a 30-minute DST); 2026 ends 5 Apr 02:00 -> 01:30,
  starts 4 Oct 02:00 -> 02:30.
- Pacific/Chatham: UTC+12:45 standard, UTC+13:45 in summer; 2026 ends 5 Apr 03:45 -> 02:45, starts 27 Sep 02:45 ->
  03:45.
- America/Santiago: 2026-09-06 00:00 (UTC-4) jumps to 01:00 (UTC-3), so that day starts at 04:00Z.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from calbot.timezones import (
    AmbiguousLocalTimeError,
    NonexistentLocalTimeError,
    TimeInputError,
    UnknownTimeZoneError,
    UtcRange,
    format_span,
    format_time,
    format_when,
    get_zone,
    local_date,
    local_days_range,
    local_wall,
    localize,
    parse_date,
    parse_instant,
    parse_start,
    start_of_day,
    to_utc_iso,
    today,
    zone_name,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_utc(value: datetime) -> None:
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# -- get_zone ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
                                  "Pacific/Chatham", "America/Santiago", "UTC", "Etc/GMT+5"])
def test_get_zone_known_names(name: str) -> None:
    zone = get_zone(name)
    assert isinstance(zone, ZoneInfo)
    assert zone.key == name


def test_get_zone_strips_surrounding_whitespace() -> None:
    assert get_zone("  Europe/Berlin \n").key == "Europe/Berlin"


@pytest.mark.parametrize("name", ["../etc/passwd", "", "   ", "Mars/Olympus", "/etc/localtime", "/usr/share/zoneinfo/UTC",
                                  "Europe/../Europe/Berlin", "./UTC", "Europe", "Not a zone", "zone.tab",
                                  "Europe/Berlin\x00", "Berlin", "CET+1"])
def test_get_zone_unknown_names(name: str) -> None:
    with pytest.raises(UnknownTimeZoneError) as info:
        get_zone(name)
    message = str(info.value)
    assert "is not a time zone I know" in message
    assert "Europe/Berlin" in message  # suggests an IANA example
    assert "Traceback" not in message


def test_get_zone_none_is_unknown() -> None:
    with pytest.raises(UnknownTimeZoneError):
        get_zone(None)  # type: ignore[arg-type]


def test_unknown_zone_error_is_a_time_input_error() -> None:
    assert issubclass(UnknownTimeZoneError, TimeInputError)
    assert issubclass(TimeInputError, ValueError)
    assert issubclass(NonexistentLocalTimeError, TimeInputError)
    assert issubclass(AmbiguousLocalTimeError, TimeInputError)


def test_zone_name() -> None:
    assert zone_name("Europe/Berlin") == "Europe/Berlin"
    assert zone_name(ZoneInfo("Asia/Kolkata")) == "Asia/Kolkata"
    assert zone_name(UTC) == "UTC"


# -- parse_start: local wall time --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "zone", "expected"), [
    # Berlin: CET (+1) in November, CEST (+2) in July.
    ("2026-11-24T15:00", "Europe/Berlin", utc(2026, 11, 24, 14, 0)),
    ("2026-07-01T15:00", "Europe/Berlin", utc(2026, 7, 1, 13, 0)),
    ("2026-01-01T00:30", "Europe/Berlin", utc(2025, 12, 31, 23, 30)),
    # New York: EST (-5) in November, EDT (-4) in July.
    ("2026-11-24T15:00", "America/New_York", utc(2026, 11, 24, 20, 0)),
    ("2026-07-01T15:00", "America/New_York", utc(2026, 7, 1, 19, 0)),
    ("2026-11-24T22:30", "America/New_York", utc(2026, 11, 25, 3, 30)),
    # Kolkata: +05:30 all year.
    ("2026-11-24T15:00", "Asia/Kolkata", utc(2026, 11, 24, 9, 30)),
    ("2026-07-01T03:00", "Asia/Kolkata", utc(2026, 6, 30, 21, 30)),
    # Lord Howe: +10:30 in July (standard), +11 in December (30-minute DST).
    ("2026-07-01T12:00", "Australia/Lord_Howe", utc(2026, 7, 1, 1, 30)),
    ("2026-12-01T12:00", "Australia/Lord_Howe", utc(2026, 12, 1, 1, 0)),
    # Chatham: +12:45 in July, +13:45 in December.
    ("2026-07-01T12:45", "Pacific/Chatham", utc(2026, 7, 1, 0, 0)),
    ("2026-12-01T13:45", "Pacific/Chatham", utc(2026, 12, 1, 0, 0)),
    ("2026-11-24T15:00", "Pacific/Chatham", utc(2026, 11, 24, 1, 15)),
    # Seconds, fractions, a space separator and surrounding blanks are accepted (seconds are dropped).
    ("2026-11-24T15:00:30", "Europe/Berlin", utc(2026, 11, 24, 14, 0)),
    ("2026-11-24 15:00", "Europe/Berlin", utc(2026, 11, 24, 14, 0)),
    ("  2026-11-24T15:00\n", "Europe/Berlin", utc(2026, 11, 24, 14, 0)),
    ("2026-11-24T15:00:00.000", "Europe/Berlin", utc(2026, 11, 24, 14, 0)),
    ("2026-11-24T15:00", "UTC", utc(2026, 11, 24, 15, 0)),
])
def test_parse_start_local_wall_time(text: str, zone: str, expected: datetime) -> None:
    result = parse_start(text, zone)
    assert result == expected
    assert_utc(result)


def test_parse_start_accepts_a_tzinfo_object() -> None:
    assert parse_start("2026-11-24T15:00", ZoneInfo("Asia/Kolkata")) == utc(2026, 11, 24, 9, 30)


def test_parse_start_unknown_zone_for_local_time() -> None:
    with pytest.raises(UnknownTimeZoneError):
        parse_start("2026-11-24T15:00", "Mars/Olympus")


@pytest.mark.parametrize(("text", "zone", "expected"), [
    ("2026-11-24T15:00:00Z", "Asia/Kolkata", utc(2026, 11, 24, 15, 0)),  # Z wins over the user's zone
    ("2026-11-24T15:00Z", "Europe/Berlin", utc(2026, 11, 24, 15, 0)),
    ("2026-11-24T15:00:00z", "America/New_York", utc(2026, 11, 24, 15, 0)),
    ("2026-11-24T15:00:00.000Z", "Europe/Berlin", utc(2026, 11, 24, 15, 0)),
    ("2026-11-24T15:00+02:00", "America/New_York", utc(2026, 11, 24, 13, 0)),
    ("2026-11-24T15:00:00-05:00", "Europe/Berlin", utc(2026, 11, 24, 20, 0)),
    ("2026-11-24T15:00-05:30", "UTC", utc(2026, 11, 24, 20, 30)),
    ("2026-11-24T15:00+0530", "UTC", utc(2026, 11, 24, 9, 30)),
    ("2026-11-24T00:30+01:00", "UTC", utc(2026, 11, 23, 23, 30)),
    ("2026-11-24T15:00:00.250+01:00", "UTC", utc(2026, 11, 24, 14, 0)),  # the fraction is dropped
    ("2026-11-24 15:00Z", "UTC", utc(2026, 11, 24, 15, 0)),
    ("2026-12-01T13:45+13:45", "UTC", utc(2026, 12, 1, 0, 0)),
])
def test_parse_start_with_z_or_offset(text: str, zone: str, expected: datetime) -> None:
    result = parse_start(text, zone)
    assert result == expected
    assert_utc(result)


# -- parse_start: DST gaps -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "zone", "before", "after"), [
    ("2026-03-08T02:30", "America/New_York", "UTC-5", "UTC-4"),
    ("2026-03-08T02:00", "America/New_York", "UTC-5", "UTC-4"),
    ("2026-03-08T02:59", "America/New_York", "UTC-5", "UTC-4"),
    ("2026-03-29T02:30", "Europe/Berlin", "UTC+1", "UTC+2"),
    ("2026-10-04T02:15", "Australia/Lord_Howe", "UTC+10:30", "UTC+11"),
    ("2026-09-27T03:00", "Pacific/Chatham", "UTC+12:45", "UTC+13:45"),
    ("2026-09-06T00:30", "America/Santiago", "UTC-4", "UTC-3"),
])
def test_parse_start_refuses_wall_time_in_spring_forward_gap(text: str, zone: str, before: str, after: str) -> None:
    with pytest.raises(NonexistentLocalTimeError) as info:
        parse_start(text, zone)
    message = str(info.value)
    assert zone in message
    assert "does not exist" in message
    assert text[-5:] in message  # the HH:MM the user asked for
    assert f"from {before} to {after}" in message


def test_gap_message_names_the_day() -> None:
    with pytest.raises(NonexistentLocalTimeError) as info:
        parse_start("2026-03-29T02:30", "Europe/Berlin")
    assert "Sunday 29 March 2026" in str(info.value)


@pytest.mark.parametrize(("text", "zone", "expected"), [
    # Just before and just after each gap both exist.
    ("2026-03-08T01:59", "America/New_York", utc(2026, 3, 8, 6, 59)),   # EST
    ("2026-03-08T03:00", "America/New_York", utc(2026, 3, 8, 7, 0)),    # EDT
    ("2026-03-29T01:59", "Europe/Berlin", utc(2026, 3, 29, 0, 59)),     # CET
    ("2026-03-29T03:00", "Europe/Berlin", utc(2026, 3, 29, 1, 0)),      # CEST
    ("2026-10-04T01:59", "Australia/Lord_Howe", utc(2026, 10, 3, 15, 29)),  # +10:30
    ("2026-10-04T02:30", "Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),  # +11
])
def test_parse_start_edges_of_gap_exist(text: str, zone: str, expected: datetime) -> None:
    assert parse_start(text, zone) == expected


def test_offset_form_inside_a_gap_is_accepted_as_an_instant() -> None:
    # With an explicit offset there is nothing to guess: it is an instant.
    assert parse_start("2026-03-08T02:30-05:00", "America/New_York") == utc(2026, 3, 8, 7, 30)


# -- parse_start: DST overlaps -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "zone", "first", "second", "example"), [
    ("2026-11-01T01:30", "America/New_York", utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30),
     "2026-11-01T01:30-04:00"),
    ("2026-10-25T02:30", "Europe/Berlin", utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30),
     "2026-10-25T02:30+02:00"),
])
def test_parse_start_refuses_ambiguous_fall_back_time(text: str, zone: str, first: datetime, second: datetime,
                                                      example: str) -> None:
    with pytest.raises(AmbiguousLocalTimeError) as info:
        parse_start(text, zone)
    error = info.value
    assert len(error.options) == 2
    assert error.options[0] != error.options[1]
    assert error.options == [first, second]
    assert error.options[1] - error.options[0] == timedelta(hours=1)
    for option in error.options:
        assert_utc(option)
    message = str(error)
    assert zone in message
    assert "happens twice" in message
    assert example in message  # offers the offset form


def test_ambiguous_message_names_both_abbreviations() -> None:
    with pytest.raises(AmbiguousLocalTimeError) as info:
        parse_start("2026-11-01T01:30", "America/New_York")
    message = str(info.value)
    assert "EDT (UTC-4)" in message
    assert "EST (UTC-5)" in message
    assert message.index("EDT") < message.index("EST")  # the first occurrence first


def test_lord_howe_overlap_is_thirty_minutes() -> None:
    with pytest.raises(AmbiguousLocalTimeError) as info:
        parse_start("2026-04-05T01:45", "Australia/Lord_Howe")
    assert info.value.options == [utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15, 15)]
    assert "2026-04-05T01:45+11:00" in str(info.value)


def test_chatham_overlap() -> None:
    with pytest.raises(AmbiguousLocalTimeError) as info:
        parse_start("2026-04-05T02:50", "Pacific/Chatham")
    assert info.value.options == [utc(2026, 4, 4, 13, 5), utc(2026, 4, 4, 14, 5)]
    assert "2026-04-05T02:50+13:45" in str(info.value)


@pytest.mark.parametrize(("text", "zone", "expected"), [
    ("2026-11-01T01:30-04:00", "America/New_York", utc(2026, 11, 1, 5, 30)),  # EDT, the first 01:30
    ("2026-11-01T01:30-05:00", "America/New_York", utc(2026, 11, 1, 6, 30)),  # EST, the second 01:30
    ("2026-10-25T02:30+02:00", "Europe/Berlin", utc(2026, 10, 25, 0, 30)),    # CEST
    ("2026-10-25T02:30+01:00", "Europe/Berlin", utc(2026, 10, 25, 1, 30)),    # CET
])
def test_offset_form_resolves_the_ambiguity(text: str, zone: str, expected: datetime) -> None:
    assert parse_start(text, zone) == expected


@pytest.mark.parametrize(("text", "zone"), [("2026-11-01T01:30", "America/New_York"),
                                            ("2026-10-25T02:30", "Europe/Berlin"),
                                            ("2026-04-05T01:45", "Australia/Lord_Howe")])
def test_offset_suggested_by_the_message_round_trips(text: str, zone: str) -> None:
    with pytest.raises(AmbiguousLocalTimeError) as info:
        parse_start(text, zone)
    suggested = re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[+-]\d{2}:\d{2}", str(info.value))
    assert suggested is not None
    assert parse_start(suggested.group(0), zone) == info.value.options[0]


def test_times_next_to_the_overlap_are_not_ambiguous() -> None:
    assert parse_start("2026-11-01T00:59", "America/New_York") == utc(2026, 11, 1, 4, 59)  # EDT
    assert parse_start("2026-11-01T02:00", "America/New_York") == utc(2026, 11, 1, 7, 0)   # EST


def test_localize_returns_the_aware_wall_time() -> None:
    result = localize(datetime(2026, 11, 24, 15, 0), "Europe/Berlin")
    assert result.utcoffset() == timedelta(hours=1)
    assert result.astimezone(UTC) == utc(2026, 11, 24, 14, 0)


# -- parse_start: refused input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["2026-02-30T10:00", "2026-13-01T10:00", "2026-11-24T25:00", "2026-11-24T24:00",
                                  "2026-11-24T15:60", "2026-02-29T10:00", "2026-04-31T09:00", "2026-00-10T10:00",
                                  "2026-02-30T10:00Z", "2026-13-01T10:00+01:00", "2026-11-24T25:00:00Z",
                                  "2026-11-24T15:00:61"])
def test_parse_start_refuses_impossible_dates_and_times(text: str) -> None:
    with pytest.raises(TimeInputError) as info:
        parse_start(text, "Europe/Berlin")
    assert type(info.value) is TimeInputError
    assert "does not exist in the calendar" in str(info.value)
    assert text in str(info.value)


@pytest.mark.parametrize("text", ["", "   ", "tomorrow at 3pm", "2026-11-24", "15:00", "24/11/2026 15:00",
                                  "2026-11-24T3:00", "2026-11-24T15", "2026-11-24T15:00 CET", "2026-11-24T15:00+2",
                                  "2026/11/24T15:00", "26-11-24T15:00", "2026-11-24T15:00:00ZZ", "next tuesday",
                                  "2026-11-24T15:00 Europe/Berlin", "20261124T1500"])
def test_parse_start_refuses_bad_formats(text: str) -> None:
    with pytest.raises(TimeInputError) as info:
        parse_start(text, "Europe/Berlin")
    assert type(info.value) is TimeInputError
    assert "YYYY-MM-DDTHH:MM" in str(info.value)


def test_parse_start_none_is_a_bad_format() -> None:
    with pytest.raises(TimeInputError):
        parse_start(None, "Europe/Berlin")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "zone"), [("9999-12-31T23:30-01:00", "UTC"), ("0001-01-01T00:30+01:00", "UTC"),
                                            ("9999-12-31T23:30", "America/New_York")])
def test_parse_start_out_of_range_year_is_a_time_input_error(text: str, zone: str) -> None:
    with pytest.raises(TimeInputError):
        parse_start(text, zone)


# -- parse_date ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [("2026-11-24", date(2026, 11, 24)), ("2028-02-29", date(2028, 2, 29)),
                                                (" 2026-01-01 ", date(2026, 1, 1)), ("2026-12-31", date(2026, 12, 31))])
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2026-02-30", "2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-11-00"])
def test_parse_date_refuses_impossible_dates(text: str) -> None:
    with pytest.raises(TimeInputError) as info:
        parse_date(text)
    assert str(info.value) == f"The date {text!r} does not exist in the calendar."


@pytest.mark.parametrize("text", ["", "24.11.2026", "2026-1-5", "2026/11/24", "2026-11-24T10:00", "tomorrow",
                                  "11-24-2026", "2026-11"])
def test_parse_date_refuses_bad_formats(text: str) -> None:
    with pytest.raises(TimeInputError) as info:
        parse_date(text)
    assert "YYYY-MM-DD" in str(info.value)


def test_parse_date_names_what_it_parses() -> None:
    with pytest.raises(TimeInputError) as info:
        parse_date("2026-02-30", "end date")
    assert str(info.value).startswith("The end date '2026-02-30'")


# -- start_of_day / local_days_range -------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "zone", "expected"), [
    (date(2026, 11, 24), "Europe/Berlin", utc(2026, 11, 23, 23, 0)),
    (date(2026, 7, 1), "Europe/Berlin", utc(2026, 6, 30, 22, 0)),
    (date(2026, 11, 24), "America/New_York", utc(2026, 11, 24, 5, 0)),
    (date(2026, 11, 24), "Asia/Kolkata", utc(2026, 11, 23, 18, 30)),
    (date(2026, 11, 24), "Pacific/Chatham", utc(2026, 11, 23, 10, 15)),
    (date(2026, 11, 24), "UTC", utc(2026, 11, 24, 0, 0)),
])
def test_start_of_day(day: date, zone: str, expected: datetime) -> None:
    result = start_of_day(day, zone)
    assert result == expected
    assert_utc(result)


def test_start_of_day_when_midnight_is_skipped_santiago() -> None:
    # 2026-09-06 00:00 -04 never happens: clocks go to 01:00 -03. The day starts at that instant, 04:00Z.
    result = start_of_day(date(2026, 9, 6), "America/Santiago")
    assert result == utc(2026, 9, 6, 4, 0)
    local = result.astimezone(ZoneInfo("America/Santiago"))
    assert (local.date(), local.hour, local.minute) == (date(2026, 9, 6), 1, 0)
    assert (result - timedelta(seconds=1)).astimezone(ZoneInfo("America/Santiago")).date() == date(2026, 9, 5)
    assert start_of_day(date(2026, 9, 5), "America/Santiago") == utc(2026, 9, 5, 4, 0)


class _PostOffsetInGap(tzinfo):
    """A zone like Santiago on 2026-09-06 (00:00 -04 -> 01:00 -03 at 04:00Z), but whose utcoffset() resolves wall
    times inside the gap with the *new* offset (not PEP 495's fold=0 rule), so local midnight maps to the previous
    day. It drives start_of_day's fallback search."""

    _SWITCH_UTC = datetime(2026, 9, 6, 4, 0)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        assert dt is not None
        return timedelta(hours=-3) if dt.replace(tzinfo=None) >= datetime(2026, 9, 6) else timedelta(hours=-4)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "XST"

    def fromutc(self, dt: datetime) -> datetime:
        naive = dt.replace(tzinfo=None)
        offset = timedelta(hours=-3) if naive >= self._SWITCH_UTC else timedelta(hours=-4)
        return (naive + offset).replace(tzinfo=self)


def test_start_of_day_fallback_search_for_skipped_midnight() -> None:
    assert start_of_day(date(2026, 9, 6), _PostOffsetInGap()) == utc(2026, 9, 6, 4, 0)


def test_local_days_range_single_day_includes_the_whole_day() -> None:
    result = local_days_range(date(2026, 11, 24), date(2026, 11, 24), "Europe/Berlin")
    assert result == UtcRange(utc(2026, 11, 23, 23, 0), utc(2026, 11, 24, 23, 0))
    assert result.contains(utc(2026, 11, 23, 23, 0))            # local 00:00, included
    assert result.contains(utc(2026, 11, 24, 22, 59, 59))       # local 23:59:59, included
    assert not result.contains(utc(2026, 11, 24, 23, 0))        # next local midnight, excluded
    assert not result.contains(utc(2026, 11, 23, 22, 59, 59))


def test_local_days_range_includes_the_last_day() -> None:
    result = local_days_range(date(2026, 11, 24), date(2026, 11, 26), "America/New_York")
    assert result.start == utc(2026, 11, 24, 5, 0)
    assert result.end == utc(2026, 11, 27, 5, 0)
    assert result.contains(utc(2026, 11, 27, 4, 30))  # 23:30 on the 26th, New York
    assert result.end - result.start == timedelta(days=3)


@pytest.mark.parametrize(("day", "zone", "start", "end", "hours"), [
    (date(2026, 3, 8), "America/New_York", utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0), 23),
    (date(2026, 11, 1), "America/New_York", utc(2026, 11, 1, 4, 0), utc(2026, 11, 2, 5, 0), 25),
    (date(2026, 3, 29), "Europe/Berlin", utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0), 23),
    (date(2026, 10, 25), "Europe/Berlin", utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0), 25),
    (date(2026, 10, 4), "Australia/Lord_Howe", utc(2026, 10, 3, 13, 30), utc(2026, 10, 4, 13, 0), 23.5),
    (date(2026, 4, 5), "Australia/Lord_Howe", utc(2026, 4, 4, 13, 0), utc(2026, 4, 5, 13, 30), 24.5),
    (date(2026, 9, 6), "America/Santiago", utc(2026, 9, 6, 4, 0), utc(2026, 9, 7, 3, 0), 23),
])
def test_local_days_range_dst_days(day: date, zone: str, start: datetime, end: datetime, hours: float) -> None:
    result = local_days_range(day, day, zone)
    assert (result.start, result.end) == (start, end)
    assert result.end - result.start == timedelta(hours=hours)


def test_local_days_range_refuses_end_before_start() -> None:
    with pytest.raises(TimeInputError) as info:
        local_days_range(date(2026, 11, 25), date(2026, 11, 24), "Europe/Berlin")
    assert "2026-11-24" in str(info.value)
    assert "2026-11-25" in str(info.value)
    assert "before" in str(info.value)


def test_local_days_range_unknown_zone() -> None:
    with pytest.raises(UnknownTimeZoneError):
        local_days_range(date(2026, 11, 24), date(2026, 11, 24), "Mars/Olympus")


# -- to_utc_iso / parse_instant ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("instant", "expected"), [
    (utc(2026, 11, 24, 14, 0), "2026-11-24T14:00:00Z"),
    (datetime(2026, 11, 24, 15, 0, tzinfo=ZoneInfo("Europe/Berlin")), "2026-11-24T14:00:00Z"),
    (datetime(2026, 7, 1, 15, 0, tzinfo=ZoneInfo("Europe/Berlin")), "2026-07-01T13:00:00Z"),
    (datetime(2026, 11, 24, 15, 0, tzinfo=ZoneInfo("Asia/Kolkata")), "2026-11-24T09:30:00Z"),
    (datetime(2026, 11, 24, 22, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-11-25T03:00:00Z"),
    (datetime(2026, 11, 24, 14, 0, 5, 999999, tzinfo=UTC), "2026-11-24T14:00:05Z"),
])
def test_to_utc_iso(instant: datetime, expected: str) -> None:
    result = to_utc_iso(instant)
    assert result == expected
    assert result.endswith("Z")


def test_to_utc_iso_refuses_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_utc_iso(datetime(2026, 11, 24, 14, 0))


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-24T14:00:00.000Z", utc(2026, 11, 24, 14, 0)),
    ("2026-11-24T14:00:00Z", utc(2026, 11, 24, 14, 0)),
    ("2026-11-24T14:00:00z", utc(2026, 11, 24, 14, 0)),
    ("2050-09-05T09:00:00.000+02:00", utc(2050, 9, 5, 7, 0)),
    ("2026-11-24T15:00:00+02:00", utc(2026, 11, 24, 13, 0)),
    ("2026-11-24T09:30:00-05:00", utc(2026, 11, 24, 14, 30)),
    ("2026-11-24T14:00:00", utc(2026, 11, 24, 14, 0)),  # naive means UTC
    (" 2026-11-24T14:00:00.000Z ", utc(2026, 11, 24, 14, 0)),
])
def test_parse_instant(text: str, expected: datetime) -> None:
    result = parse_instant(text)
    assert result == expected
    assert_utc(result)


def test_parse_instant_round_trips_with_to_utc_iso() -> None:
    assert to_utc_iso(parse_instant("2050-09-05T09:00:00.000+02:00")) == "2050-09-05T07:00:00Z"


# -- small helpers -------------------------------------------------------------------------------------------------

def test_local_wall_format_time_local_date_today() -> None:
    instant = utc(2026, 11, 24, 23, 30)
    assert local_wall(instant, "Europe/Berlin") == "2026-11-25T00:30"
    assert local_wall(instant, "America/New_York") == "2026-11-24T18:30"
    assert format_time(instant, "Asia/Kolkata") == "05:00"
    assert local_date(instant, "Europe/Berlin") == date(2026, 11, 25)
    assert local_date(instant, "America/New_York") == date(2026, 11, 24)
    assert today("Pacific/Chatham", instant) == date(2026, 11, 25)


def test_local_wall_round_trips_through_parse_start() -> None:
    instant = utc(2026, 7, 1, 13, 0)
    assert parse_start(local_wall(instant, "Europe/Berlin"), "Europe/Berlin") == instant


# -- format_when ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("instant", "zone", "expected"), [
    (utc(2026, 11, 24, 14, 0), "Europe/Berlin", "Tuesday 24 November 2026, 15:00 CET (Europe/Berlin)"),
    (utc(2026, 7, 1, 13, 0), "Europe/Berlin", "Wednesday 1 July 2026, 15:00 CEST (Europe/Berlin)"),
    (utc(2026, 11, 24, 14, 0), "America/New_York", "Tuesday 24 November 2026, 09:00 EST (America/New_York)"),
    (utc(2026, 7, 1, 13, 0), "America/New_York", "Wednesday 1 July 2026, 09:00 EDT (America/New_York)"),
    (utc(2026, 11, 24, 14, 0), "Asia/Kolkata", "Tuesday 24 November 2026, 19:30 IST (Asia/Kolkata)"),
    (utc(2026, 12, 5, 9, 5), "UTC", "Saturday 5 December 2026, 09:05 UTC (UTC)"),
    # Zones whose abbreviation is numeric render as UTC+N.
    (utc(2026, 11, 24, 14, 0), "Asia/Dubai", "Tuesday 24 November 2026, 18:00 UTC+4 (Asia/Dubai)"),
    (utc(2026, 11, 24, 14, 0), "America/Sao_Paulo", "Tuesday 24 November 2026, 11:00 UTC-3 (America/Sao_Paulo)"),
    (utc(2026, 11, 24, 14, 0), "Asia/Kathmandu", "Tuesday 24 November 2026, 19:45 UTC+5:45 (Asia/Kathmandu)"),
    (utc(2026, 11, 24, 14, 0), "Pacific/Chatham", "Wednesday 25 November 2026, 03:45 UTC+13:45 (Pacific/Chatham)"),
    (utc(2026, 7, 1, 0, 0), "Pacific/Chatham", "Wednesday 1 July 2026, 12:45 UTC+12:45 (Pacific/Chatham)"),
    (utc(2026, 11, 24, 14, 0), "Australia/Lord_Howe",
     "Wednesday 25 November 2026, 01:00 UTC+11 (Australia/Lord_Howe)"),
    (utc(2026, 7, 1, 1, 30), "Australia/Lord_Howe", "Wednesday 1 July 2026, 12:00 UTC+10:30 (Australia/Lord_Howe)"),
    (utc(2026, 11, 24, 14, 0), "Etc/GMT+5", "Tuesday 24 November 2026, 09:00 UTC-5 (Etc/GMT+5)"),
])
def test_format_when(instant: datetime, zone: str, expected: str) -> None:
    assert format_when(instant, zone) == expected


def test_format_when_accepts_non_utc_input_and_tzinfo() -> None:
    instant = datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("America/New_York"))  # 14:00Z
    assert format_when(instant, ZoneInfo("Europe/Berlin")) == "Tuesday 24 November 2026, 15:00 CET (Europe/Berlin)"


def test_format_when_never_shows_raw_numeric_abbreviation() -> None:
    text = format_when(utc(2026, 11, 24, 14, 0), "Asia/Dubai")
    assert "+04" not in text


# -- format_span ---------------------------------------------------------------------------------------------------

def test_format_span_same_day() -> None:
    assert (format_span(utc(2026, 11, 24, 14, 0), utc(2026, 11, 24, 14, 30), "Europe/Berlin")
            == "Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin)")


def test_format_span_same_day_numeric_zone() -> None:
    assert (format_span(utc(2026, 11, 24, 14, 0), utc(2026, 11, 24, 15, 0), "Asia/Kathmandu")
            == "Tuesday 24 November 2026, 19:45–20:45 UTC+5:45 (Asia/Kathmandu)")


def test_format_span_ending_at_local_midnight_stays_on_one_day() -> None:
    assert (format_span(utc(2026, 11, 24, 22, 30), utc(2026, 11, 24, 23, 0), "Europe/Berlin")
            == "Tuesday 24 November 2026, 23:30–00:00 CET (Europe/Berlin)")


def test_format_span_crossing_midnight_names_both_days() -> None:
    assert (format_span(utc(2026, 11, 24, 22, 30), utc(2026, 11, 24, 23, 30), "Europe/Berlin")
            == "Tuesday 24 November 2026, 23:30 CET (Europe/Berlin) – "
               "Wednesday 25 November 2026, 00:30 CET (Europe/Berlin)")


def test_format_span_midnight_depends_on_the_zone() -> None:
    # 22:30Z-23:30Z crosses midnight in Berlin (above) but not in New York.
    assert (format_span(utc(2026, 11, 24, 22, 30), utc(2026, 11, 24, 23, 30), "America/New_York")
            == "Tuesday 24 November 2026, 17:30–18:30 EST (America/New_York)")


def test_format_span_across_fall_back() -> None:
    # 00:00Z = 02:00 CEST, 01:30Z = 02:30 CET on 25 October 2026.
    assert (format_span(utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 30), "Europe/Berlin")
            == "Sunday 25 October 2026, 02:00–02:30 CEST/CET (Europe/Berlin)")


def test_format_span_across_spring_forward() -> None:
    # 06:30Z = 01:30 EST, 07:30Z = 03:30 EDT on 8 March 2026.
    assert (format_span(utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30), "America/New_York")
            == "Sunday 8 March 2026, 01:30–03:30 EST/EDT (America/New_York)")


# -- issue 15, finding 8: dates beyond what calbot works with are refused in words, never an OverflowError ---------

@pytest.mark.parametrize("text", ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"])
def test_parse_date_refuses_dates_outside_the_supported_range(text: str) -> None:
    with pytest.raises(TimeInputError) as info:
        parse_date(text)
    assert str(info.value) == (f"The date {text!r} is outside the dates calbot works with (1900-01-01 to "
                               "2999-12-31).")


@pytest.mark.parametrize("text", ["1900-01-01", "2999-12-31"])
def test_parse_date_accepts_the_edges_of_the_supported_range(text: str) -> None:
    assert parse_date(text).isoformat() == text


@pytest.mark.parametrize(("text", "zone"), [("9999-12-31T23:59", "Europe/Berlin"), ("0001-01-01T00:00", "UTC"),
                                            ("0001-01-01T00:00+14:00", "UTC"), ("9999-12-31T23:59-12:00", "UTC"),
                                            ("3000-01-01T00:00", "Asia/Kolkata"), ("1899-12-31T23:59Z", "UTC")])
def test_parse_start_refuses_instants_outside_the_supported_range(text: str, zone: str) -> None:
    with pytest.raises(TimeInputError) as info:
        parse_start(text, zone)
    assert "outside the dates calbot works with (1900-01-01 to 2999-12-31)" in str(info.value)


@pytest.mark.parametrize(("first", "last"), [(date(9999, 12, 31), date(9999, 12, 31)), (date(1, 1, 1), date(1, 1, 1)),
                                             (date(2026, 11, 24), date(9999, 12, 31)),
                                             (date(1, 1, 1), date(2026, 1, 1))])
def test_local_days_range_at_the_ends_of_the_calendar_is_a_sentence(first: date, last: date) -> None:
    with pytest.raises(TimeInputError) as info:
        local_days_range(first, last, "Pacific/Kiritimati")
    assert "outside the dates calbot works with" in str(info.value)


# -- issue 15, finding 9: seconds, windows ending at midnight, a clock time that happens twice -----------------------

@pytest.mark.parametrize(("text", "zone", "expected"), [
    ("2026-11-24T15:00:30", "Europe/Berlin", utc(2026, 11, 24, 14, 0)),
    ("2026-11-24T15:00:59.999", "Europe/Berlin", utc(2026, 11, 24, 14, 0)),
    ("2026-11-24T14:00:30Z", "Europe/Berlin", utc(2026, 11, 24, 14, 0)),
    ("2026-11-24T15:00:00.250+01:00", "UTC", utc(2026, 11, 24, 14, 0)),
])
def test_parse_start_reads_a_time_with_seconds_as_its_minute(text: str, zone: str, expected: datetime) -> None:
    """Cal.com's slots start on whole minutes and a person only ever sees and confirms HH:MM, so seconds are dropped
    (the minute is kept, as a clock shows it): 15:00:30 is the 15:00 slot, never a different instant."""
    assert parse_start(text, zone) == expected


@pytest.mark.parametrize(("start", "end", "zone", "expected"), [
    (utc(2026, 11, 24, 9, 0), utc(2026, 11, 24, 17, 0), "Europe/Berlin", "10:00-18:00"),
    (utc(2026, 11, 24, 9, 0), utc(2026, 11, 24, 17, 0), "Asia/Bangkok", "16:00-24:00"),
    (utc(2026, 11, 23, 23, 0), utc(2026, 11, 24, 8, 0), "Europe/Berlin", "00:00-09:00"),
    (utc(2026, 11, 23, 23, 0), utc(2026, 11, 24, 23, 0), "Europe/Berlin", "all day"),
    (utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0), "Europe/Berlin", "all day"),  # 25 hours: clocks go back
    (utc(2026, 9, 6, 4, 0), utc(2026, 9, 7, 3, 0), "America/Santiago", "all day"),  # the day starts at 01:00
    (utc(2026, 11, 24, 21, 0), utc(2026, 11, 25, 1, 0), "Europe/Berlin", "22:00-02:00 (next day)"),
])
def test_format_window(start: datetime, end: datetime, zone: str, expected: str) -> None:
    from calbot.timezones import format_window

    assert format_window(start, end, zone) == expected


def test_clock_instants_on_a_fall_back_night_are_both_candidates() -> None:
    from calbot.timezones import clock_instants

    day = date(2026, 10, 25)  # Berlin: 02:00-03:00 happens first in CEST (+2), then in CET (+1)
    assert clock_instants(day, "02:30", "Europe/Berlin") == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)]
    assert clock_instants(day, "02:30+02:00", "Europe/Berlin") == [utc(2026, 10, 25, 0, 30)]
    assert clock_instants(day, "02:30+0100", "Europe/Berlin") == [utc(2026, 10, 25, 1, 30)]
    assert clock_instants(day, "01:30", "Europe/Berlin") == [utc(2026, 10, 24, 23, 30)]
    assert clock_instants(date(2026, 11, 24), "15:00Z", "Europe/Berlin") == [utc(2026, 11, 24, 15, 0)]
    with pytest.raises(NonexistentLocalTimeError):
        clock_instants(date(2026, 3, 29), "02:30", "Europe/Berlin")


# -- issue 15, finding 10: IANA zones only; aliases become their canonical names ------------------------------------

NOT_IANA = ["localtime", "Factory", "posixrules", "right/UTC", "right/Europe/Berlin", "posix/Europe/Berlin",
            "posix/UTC", "leapseconds", "tzdata.zi", "zone1970.tab", "iso3166.tab"]
ALIASES = [("US/Eastern", "America/New_York"), ("Asia/Calcutta", "Asia/Kolkata"), ("Europe/Kiev", "Europe/Kyiv"),
           ("US/Pacific", "America/Los_Angeles"), ("GB", "Europe/London"), ("America/Buenos_Aires",
                                                                           "America/Argentina/Buenos_Aires"),
           ("Etc/UTC", "UTC"), ("Etc/GMT", "UTC"), ("Etc/Universal", "UTC"), ("Zulu", "UTC"), ("GMT", "UTC")]


@pytest.mark.parametrize("name", NOT_IANA)
def test_get_zone_refuses_zone_files_that_are_not_iana_zones(name: str) -> None:
    with pytest.raises(UnknownTimeZoneError) as info:
        get_zone(name)
    assert "is not a time zone I know" in str(info.value)


@pytest.mark.parametrize(("alias", "canonical"), ALIASES)
def test_get_zone_maps_an_alias_to_its_canonical_name(alias: str, canonical: str) -> None:
    assert get_zone(alias).key == canonical


@pytest.mark.parametrize(("city", "canonical"), [("Calcutta", "Asia/Kolkata"), ("kiev", "Europe/Kyiv"),
                                                 ("Buenos Aires", "America/Argentina/Buenos_Aires")])
def test_a_city_named_by_an_alias_resolves_to_the_canonical_zone(city: str, canonical: str) -> None:
    from calbot.timezones import resolve_zone

    assert resolve_zone(city).key == canonical


def _zone_from_setting(name: str) -> str | None:
    from calbot.config import load_settings

    return load_settings(calbot_timezone=name).calbot_timezone


def _zone_from_the_browser(name: str) -> str | None:
    from calbot.booking.executor import Executor
    from calbot.booking.session import SessionState, User

    state = SessionState(user=User(time_zone="Europe/Paris", time_zone_source="default"))
    Executor.apply_browser_zone(state, name)
    return None if state.user.time_zone == "Europe/Paris" else state.user.time_zone


def _zone_from_the_chat(name: str) -> str | None:
    from calbot.timezones import resolve_zone

    try:
        return resolve_zone(name).key
    except UnknownTimeZoneError:
        return None


def _zone_of_the_host(name: str) -> str | None:
    from calbot.booking.account import Account
    from calbot.calcom import EventType, Me

    account = Account(me=Me(id=1, email="host@example.com", timeZone=name),
                      event_type=EventType(id=1, lengthInMinutes=30))
    return account.host_time_zone


ENTRY_POINTS = {"CALBOT_TIMEZONE": _zone_from_setting, "browser": _zone_from_the_browser,
                "set_time_zone": _zone_from_the_chat, "host (/v2/me)": _zone_of_the_host}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules", "right/UTC", "posix/Europe/Berlin"])
def test_no_entry_point_takes_a_name_that_is_not_an_iana_zone(entry: str, name: str) -> None:
    assert ENTRY_POINTS[entry](name) is None


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("alias", "canonical"), [("US/Eastern", "America/New_York"),
                                                  ("Asia/Calcutta", "Asia/Kolkata")])
def test_every_entry_point_keeps_the_canonical_name_of_an_alias(entry: str, alias: str, canonical: str) -> None:
    assert ENTRY_POINTS[entry](alias) == canonical
