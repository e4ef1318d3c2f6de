"""Which compose project a run targets without --project: the one `docker compose` would use."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.platforms.compose import project_name
from test_coordinator.platforms.compose.project import normalise_project_name


@pytest.fixture(autouse=True)
def no_project_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)


def test_the_compose_files_name_wins(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("name: Trading-Demo\nservices: {}\n")
    assert project_name(tmp_path) == "trading-demo"


def test_without_a_name_the_directory_of_the_compose_file_names_it(tmp_path: Path) -> None:
    root = tmp_path / "My Stack.v2"
    (root / "scenarios" / "compose").mkdir(parents=True)
    (root / "docker-compose.yml").write_text("services: {}\n")
    assert project_name(root / "scenarios" / "compose") == "mystackv2"


def test_the_environment_names_it_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "compose.yaml").write_text("name: from-file\n")
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "From-Env")
    assert project_name(tmp_path) == "from-env"


def test_no_compose_file_anywhere_up_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ScenarioInvalid) as raised:
        project_name(tmp_path)
    message = str(raised.value)
    assert message.startswith("no compose project named (--project) and no compose file")
    assert f"in {tmp_path} or above it" in message


def test_a_malformed_compose_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ScenarioInvalid, match=r"compose.yaml:\d+: malformed YAML"):
        project_name(tmp_path)


@pytest.mark.parametrize(
    ("given", "normal"), [("Demo", "demo"), ("_x.y-Z", "xy-z"), ("a b_c", "ab_c")]
)
def test_names_are_normalised_as_compose_does(given: str, normal: str) -> None:
    assert normalise_project_name(given) == normal
