"""Settings precedence (flags > environment > config file > ConfigMap > Redis hash), the kill
switch that any layer can turn off, and errors that name the setting and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_coordinator.ecosystem.live import LiveSettings
from test_coordinator.ecosystem.settings import Layer, SettingsLayers, read_config_file
from test_coordinator.errors import ScenarioInvalid


def layers(flags: dict, environ: dict, *lower: Layer) -> SettingsLayers:
    return SettingsLayers.gather(flags, environ=environ, lower=lower)


def test_the_first_layer_that_sets_a_value_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PORT", "GRPC_PORT", "LOG_LEVEL", "SCENARIO_TIMEOUT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRPC_PORT", "50052")
    file = Layer("the config file c.yaml", {"grpc_port": 1, "log_level": "DEBUG", "http_port": 2})
    redis = Layer("the Redis hash config:test-coordinator", {"scenario_timeout_seconds": "90"})
    merged = layers({"http_port": 9000, "grpc_port": None}, {"GRPC_PORT": "50052"}, file, redis)

    settings = merged.settings()

    assert (settings.http_port, settings.grpc_port) == (9000, 50052)
    assert settings.log_level == "DEBUG" and settings.scenario_timeout_seconds == 90.0
    assert merged.origin("http_port") == "--http-port"
    assert merged.origin("grpc_port") == "GRPC_PORT in the environment"
    assert merged.origin("log_level") == "log_level in the config file c.yaml"
    assert merged.origin("service_name") == "the default"


def test_the_kill_switch_is_off_when_any_layer_says_so() -> None:
    redis = Layer("the Redis hash config:test-coordinator", {"chaos_injection_enabled": "false"})
    merged = layers({}, {"CHAOS_INJECTION_ENABLED": "true"}, redis)

    assert merged.injection() == (
        False,
        "chaos_injection_enabled in the Redis hash config:test-coordinator says false",
    )
    assert layers({}, {"CHAOS_INJECTION_ENABLED": "true"}).injection() == (
        True,
        "CHAOS_INJECTION_ENABLED in the environment",
    )
    unreadable = Layer("the ConfigMap ns/cfg", {"chaos_injection_enabled": "perhaps"})
    assert layers({}, {}, unreadable).injection()[0] is False
    merged.settings()  # an unreadable switch below never fails the settings


def test_a_bad_value_names_the_setting_and_its_layer() -> None:
    with pytest.raises(
        ScenarioInvalid, match=r"setting http_port \(HTTP_PORT in the environment\)"
    ):
        layers({}, {"HTTP_PORT": "eighty"}).settings()


def test_config_files_in_three_formats(tmp_path: Path) -> None:
    for name, text in (
        ("c.yaml", "http_port: 81\n"),
        ("c.json", '{"http_port": 81}'),
        ("c.toml", "http_port = 81\n"),
    ):
        path = tmp_path / name
        path.write_text(text)
        assert read_config_file(path).values == {"http_port": 81}
    (tmp_path / "bad.yaml").write_text("htp_port: 81\n")
    with pytest.raises(ScenarioInvalid, match=r"unknown setting\(s\) htp_port"):
        read_config_file(tmp_path / "bad.yaml")


async def test_live_layers_change_the_settings_and_the_switch(tmp_path: Path) -> None:
    live = LiveSettings({}, environ={})
    seen = []
    live.on_change(seen.append)

    live.update("redis", Layer("the Redis hash h", {"log_level": "DEBUG", "http_port": "x"}))
    assert live.current.log_level == "DEBUG" and live.current.http_port == 8080  # bad one dropped
    assert live.switch.enabled and len(seen) == 1

    live.update("configmap", Layer("the ConfigMap ns/c", {"chaos_injection_enabled": "false"}))
    assert not live.switch.enabled
    assert live.switch.source == "chaos_injection_enabled in the ConfigMap ns/c says false"

    live.update("configmap", None)
    assert live.switch.enabled


def test_the_bound_on_runs_in_progress_defaults_to_50_and_takes_every_layer() -> None:
    assert layers({}, {}).settings().max_concurrent_runs == 50
    config_map = Layer("the ConfigMap ns/cfg", {"max_concurrent_runs": "20"})
    assert layers({}, {}, config_map).settings().max_concurrent_runs == 20
    assert (
        layers({}, {"MAX_CONCURRENT_RUNS": "80"}, config_map).settings().max_concurrent_runs == 80
    )
    assert (
        layers({"max_concurrent_runs": 5}, {"MAX_CONCURRENT_RUNS": "80"})
        .settings()
        .max_concurrent_runs
        == 5
    )
    with pytest.raises(
        ScenarioInvalid,
        match=r"setting max_concurrent_runs \(MAX_CONCURRENT_RUNS in the environment\)",
    ):
        layers({}, {"MAX_CONCURRENT_RUNS": "0"}).settings()
