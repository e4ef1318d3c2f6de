"""History URLs, the default file, the environment variable, and ages."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from test_coordinator.history.config import (
    default_history_url,
    history_url_from,
    parse_age,
    parse_history_url,
)


def test_sqlite_urls_follow_sqlalchemy_relative_and_absolute() -> None:
    absolute = parse_history_url("sqlite:////var/lib/tc/history.db")
    relative = parse_history_url("sqlite:///runs/history.db")
    assert absolute is not None and relative is not None
    assert absolute.path == Path("/var/lib/tc/history.db")
    assert relative.path == Path.cwd() / "runs" / "history.db"
    assert absolute.display == "sqlite:////var/lib/tc/history.db"
    assert absolute.kind == relative.kind == "sqlite"


def test_home_is_expanded() -> None:
    url = parse_history_url("sqlite:///~/h.db")
    assert url is not None and url.path == Path.home() / "h.db"


def test_postgresql_urls_and_their_displayed_form_without_the_password() -> None:
    url = parse_history_url("postgres://chaos:s3cret@db.example:6543/history?sslmode=require")
    assert url is not None and url.kind == "postgresql" and url.path is None
    assert url.display == "postgresql://chaos:***@db.example:6543/history?sslmode=require"
    assert "s3cret" in url.text  # the driver still needs it
    for scheme in ("postgresql", "postgresql+asyncpg"):
        assert parse_history_url(f"{scheme}://u@h/db") is not None


@pytest.mark.parametrize("off", ["off", "OFF", " off "])
def test_off(off: str) -> None:
    assert parse_history_url(off) is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("mysql://u@h/db", "expected sqlite:///PATH, postgresql://"),
        ("history.db", "expected sqlite:///PATH"),
        ("sqlite://", "expected sqlite:///PATH"),
        ("sqlite:///", "needs a file"),
        ("sqlite:///:memory:", "needs a file"),
        ("postgresql://u@h", "needs a host and a database"),
        ("postgresql:///db", "needs a host and a database"),
        ("postgresql://u@h:port/db", "expected sqlite:///PATH"),
    ],
)
def test_what_is_not_a_history_url_says_what_is(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="got") as caught:
        parse_history_url(text)
    assert complaint in str(caught.value) and repr(text) in str(caught.value)


def test_the_default_file_is_in_the_xdg_state_directory() -> None:
    assert default_history_url({"XDG_STATE_HOME": "/s"}).path == Path(
        "/s/test-coordinator/history.db"
    )
    home = Path.home() / ".local/state/test-coordinator/history.db"
    assert default_history_url({}).path == home
    assert default_history_url({"XDG_STATE_HOME": "relative"}).path == home  # XDG: ignored


def test_the_option_wins_over_the_environment_which_wins_over_the_default() -> None:
    environ = {"TEST_COORDINATOR_HISTORY": "sqlite:////env.db", "XDG_STATE_HOME": "/s"}
    given = history_url_from("sqlite:////given.db", environ)
    assert given is not None and given.path == Path("/given.db")
    from_env = history_url_from(None, environ)
    assert from_env is not None and from_env.path == Path("/env.db")
    assert history_url_from(None, {**environ, "TEST_COORDINATOR_HISTORY": "off"}) is None
    default = history_url_from(None, {"XDG_STATE_HOME": "/s"})
    assert default is not None and default.path == Path("/s/test-coordinator/history.db")


def test_a_bad_environment_variable_is_named() -> None:
    with pytest.raises(ValueError, match=r"^TEST_COORDINATOR_HISTORY: expected"):
        history_url_from(None, {"TEST_COORDINATOR_HISTORY": "nonsense"})


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("90d", timedelta(days=90)),
        ("2w", timedelta(weeks=2)),
        ("12h", timedelta(hours=12)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("30m", timedelta(minutes=30)),
    ],
)
def test_ages(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "90", "7 days", "-1d", "0d", "1.5d", "d"])
def test_what_is_not_an_age(text: str) -> None:
    with pytest.raises(ValueError, match="expected an age"):
        parse_age(text)


def test_urls_and_ages_need_no_sqlalchemy() -> None:
    # In a fresh interpreter: a front end checks its options before it loads the store.
    probe = (
        "import sys, test_coordinator.history.config as c; c.parse_history_url('off'); "
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'alembic'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
