"""How the user's zone is chosen: calbot.timezones.resolve_zone (what set_time_zone accepts) and
Executor.apply_browser_zone (the browser's zone, never over one the user gave in chat)."""

from __future__ import annotations

import pytest

from calbot.booking.session import SessionState, User
from calbot.booking.executor import Executor
from calbot.timezones import TimeInputError, UnknownTimeZoneError, resolve_zone


@pytest.mark.parametrize(("text", "key"), [
    ("Berlin", "Europe/Berlin"),
    ("berlin", "Europe/Berlin"),
    ("new york", "America/New_York"),
    ("  New   York ", "America/New_York"),
    ("america/new york", "America/New_York"),
    ("New_York", "America/New_York"),
    ("Los Angeles", "America/Los_Angeles"),
    ("Sao Paulo", "America/Sao_Paulo"),
    ("Tokyo", "Asia/Tokyo"),
    ("Europe/Berlin", "Europe/Berlin"),
    ("europe/berlin", "Europe/Berlin"),
    ("AMERICA/NEW_YORK", "America/New_York"),
    ("UTC", "UTC"),
    ("utc", "UTC"),
    ("gmt", "UTC"),
    ("zulu", "UTC"),
])
def test_resolve_zone(text, key):
    assert resolve_zone(text).key == key


@pytest.mark.parametrize("text", ["Atlantis", "Mars/Olympus", "", "   ", "../etc/passwd", "/etc/localtime",
                                  "Berlin Germany"])
def test_resolve_zone_unknown(text):
    with pytest.raises(UnknownTimeZoneError) as raised:
        resolve_zone(text)
    assert isinstance(raised.value, TimeInputError)
    assert "IANA name such as Europe/Berlin" in str(raised.value)


def test_resolve_zone_names_what_it_could_not_place():
    with pytest.raises(UnknownTimeZoneError, match="'Atlantis' is not a time zone or a city"):
        resolve_zone("Atlantis")


def session(zone: str = "UTC", source: str = "default") -> SessionState:
    return SessionState(user=User(time_zone=zone, time_zone_source=source))


@pytest.mark.parametrize("source", ["default", "setting", "browser"])
def test_the_browser_zone_replaces_a_default_setting_or_older_browser_zone(source):
    state = session("Europe/Berlin", source)
    assert Executor.apply_browser_zone(state, "America/New_York") is True
    assert (state.user.time_zone, state.user.time_zone_source) == ("America/New_York", "browser")


def test_the_same_browser_zone_again_is_no_change_but_becomes_the_source():
    state = session("Europe/Berlin", "setting")
    assert Executor.apply_browser_zone(state, "Europe/Berlin") is False
    assert (state.user.time_zone, state.user.time_zone_source) == ("Europe/Berlin", "browser")


def test_a_zone_from_the_chat_is_never_overridden():
    state = session("Europe/Berlin", "chat")
    assert Executor.apply_browser_zone(state, "America/New_York") is False
    assert (state.user.time_zone, state.user.time_zone_source) == ("Europe/Berlin", "chat")


@pytest.mark.parametrize("name", ["Not/AZone", "", "Berlin", None, 42])
def test_an_unknown_browser_zone_is_ignored(name):
    # Browsers report IANA names; city names are for people (set_time_zone), not for this.
    state = session("Europe/Berlin", "setting")
    assert Executor.apply_browser_zone(state, name) is False
    assert (state.user.time_zone, state.user.time_zone_source) == ("Europe/Berlin", "setting")
