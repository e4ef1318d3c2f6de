"""YAML in, a validated ChaosScenario out; or every problem, each naming file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.loading import load_scenario, load_yaml, parse_scenario
from test_coordinator.scenario.model import (
    AfterCheck,
    ChaosScenario,
    DuringCheck,
    Mode,
    SteadyStateCheck,
)

SOURCE = "s.yaml"

# Line numbers in the comments are the ones problems must name.
VALID = """\
apiVersion: chaos.tse.dev/v1alpha1
kind: ChaosScenario
metadata:
  name: risk-crash
spec:
  description: Crash the risk monitor.
  targets:
    risk:
      selector: {app: risk-monitor}
      mode: one
    redis:
      selector: {app: redis}
  steadyState:
    - name: risk serving
      tcp: {target: risk, port: 7000}
      within: 5s
  during:
    - name: risk up
      tcp: {target: risk, port: 7000}
  steps:
    - name: crash
      fault:
        kill: {target: risk}
      after:
        - name: risk recovers
          tcp: {target: risk, port: 7000}
"""
# 1 apiVersion, 2 kind, 3 metadata, 4 name, 5 spec, 6 description, 7 targets, 8 risk,
# 9 selector, 10 mode, 11 redis, 12 selector, 13 steadyState, 14 - name, 15 tcp, 16 within,
# 17 during, 18 - name, 19 tcp, 20 steps, 21 - name: crash, 22 fault, 23 kill, 24 after,
# 25 - name: risk recovers, 26 tcp

TRACEBACK_HINTS = (
    "Traceback",
    'File "',
    "errors.pydantic.dev",
    "For further information",
    "validation error",
    "type=",
    "input_value",
    "Commented",  # ruamel's internal node classes (CommentedMap, CommentedSeq)
)


def parse(text: str) -> ChaosScenario:
    return parse_scenario(load_yaml(text, source=SOURCE), source=SOURCE)


def edit(old: str, new: str, text: str = VALID) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        parse(text)
    problems = caught.value.problems
    assert problems, "ScenarioInvalid without a problem"
    assert str(caught.value) == "\n".join(problems)
    for problem in problems:
        assert "\n" not in problem, problem
        for hint in TRACEBACK_HINTS:
            assert hint not in problem, f"{hint!r} in {problem!r}"
    return problems


def only_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def assert_problem(problem: str, *, line: int, path: str, expected: str) -> None:
    """``s.yaml:<line>: <path>: <message containing expected>``."""
    prefix = f"{SOURCE}:{line}: {path}: "
    assert problem.startswith(prefix), f"{problem!r} does not start with {prefix!r}"
    assert expected in problem[len(prefix) :], f"{expected!r} not in {problem!r}"


# --- a valid scenario ------------------------------------------------------------------------


def test_valid_scenario_loads() -> None:
    scenario = parse(VALID)

    assert scenario.api_version == "chaos.tse.dev/v1alpha1"
    assert scenario.kind == "ChaosScenario"
    assert scenario.metadata.name == "risk-crash"
    assert scenario.spec.description == "Crash the risk monitor."
    assert set(scenario.spec.targets) == {"risk", "redis"}
    assert scenario.spec.targets["risk"].selector == {"app": "risk-monitor"}
    assert scenario.spec.targets["risk"].mode is Mode.ONE
    assert [step.name for step in scenario.spec.steps] == ["crash"]
    assert scenario.spec.steps[0].fault.action == "kill"
    assert scenario.spec.steps[0].fault.target == "risk"


def test_camel_case_fields_become_snake_case() -> None:
    text = edit(
        "      tcp: {target: risk, port: 7000}\n  steps:",
        "      tcp: {target: risk, port: 7000}\n      minSuccessRate: 0.9\n  steps:",
    )
    text = edit("kill: {target: risk}", "stop: {target: risk, gracePeriod: 3s}", text)
    text = edit("      after:", "      duration: 5s\n      after:", text)
    text += "  timeout: 1m\n"
    scenario = parse(text)

    assert scenario.api_version == "chaos.tse.dev/v1alpha1"
    assert len(scenario.spec.steady_state) == 1
    assert isinstance(scenario.spec.steady_state[0], SteadyStateCheck)
    assert scenario.spec.during[0].min_success_rate == 0.9
    stop = scenario.spec.steps[0].fault.stop
    assert stop is not None
    assert stop.grace_period == 3.0


def test_durations_are_seconds() -> None:
    text = edit(
        "          tcp: {target: risk, port: 7000}\n",
        "          tcp: {target: risk, port: 7000}\n"
        "          within: 1m30s\n"
        "          interval: 250ms\n",
    )
    text += "  timeout: 2m\n"
    scenario = parse(text)

    assert scenario.spec.steady_state[0].within == 5.0
    after = scenario.spec.steps[0].after[0]
    assert after.within == 90.0
    assert after.interval == 0.25
    assert scenario.spec.timeout == 120.0


def test_defaults() -> None:
    scenario = parse(VALID)
    spec = scenario.spec

    after = spec.steps[0].after[0]
    during = spec.during[0]
    assert isinstance(after, AfterCheck)
    assert after.within == 30.0
    assert after.interval == 0.1
    assert isinstance(during, DuringCheck)
    assert during.interval == 0.25
    assert during.min_success_rate == 1.0
    assert spec.timeout == 600.0
    assert spec.targets["redis"].mode is Mode.ONE
    assert spec.targets["redis"].value is None
    assert spec.steps[0].duration is None
    assert after.timeout == 2.0


def test_load_scenario_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(VALID, encoding="utf-8")

    scenario = load_scenario(path)

    assert scenario == parse(VALID)


def test_load_scenario_names_the_file_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(edit("mode: one", "mdoe: one"), encoding="utf-8")

    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(str(path))

    assert str(caught.value) == f"{path}:10: spec.targets.risk.mdoe: unknown field"


def test_load_scenario_of_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: cannot read")
    assert "Traceback" not in message


ROOT = Path(__file__).resolve().parents[3]
SHIPPED = [
    ROOT / "operator/test_coordinator/demo/scenario.yaml",
    *sorted((ROOT / "scenarios/local").glob("*.yaml")),
]


@pytest.mark.parametrize(
    "path",
    [p for p in SHIPPED if "kind: ChaosScenario" in p.read_text(encoding="utf-8")],
    ids=lambda p: p.name,
)
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)

    assert scenario.spec.steps


# --- the document as a whole -----------------------------------------------------------------


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_yaml(edit("mode: one", "mode: [one"), source=SOURCE)

    (problem,) = caught.value.problems
    assert re.match(rf"{re.escape(SOURCE)}:\d+: malformed YAML: ", problem), problem
    line = int(problem.split(":")[1])
    assert 10 <= line <= 11, problem


def test_malformed_yaml_bad_indentation() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_yaml("a: b\n  c: d\n", source=SOURCE)

    assert str(caught.value).startswith(f"{SOURCE}:2: malformed YAML: ")


def test_duplicate_keys_are_malformed() -> None:
    with pytest.raises(ScenarioInvalid, match=r"^s\.yaml:11: malformed YAML: .*duplicate key"):
        load_yaml(edit("mode: one", "mode: one\n      mode: all"), source=SOURCE)


def test_two_documents_name_the_line_of_the_second() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_yaml(VALID + "---\n" + VALID, source=SOURCE)

    assert str(caught.value) == (
        f"{SOURCE}:28: a second YAML document; a file holds one (remove the --- line, or split "
        "the file)"
    )


def test_empty_documents_around_the_one_are_ignored() -> None:
    assert load_yaml("---\n---\n" + VALID + "--- ~\n", source=SOURCE)["kind"] == "ChaosScenario"


@pytest.mark.parametrize("text", ["# nothing here\n", "", "---\n", "~\n"])
def test_no_document(text: str) -> None:
    with pytest.raises(ScenarioInvalid, match=r"^s\.yaml:1: empty: no YAML document in it$"):
        load_yaml(text, source=SOURCE)


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a\n- b\n", "list"), ("hello\n", "str")],
    ids=["sequence", "scalar"],
)
def test_a_document_that_is_not_a_mapping(text: str, found: str) -> None:
    problem = only_problem(text)

    assert problem.startswith(f"{SOURCE}")
    assert "expected a mapping" in problem
    assert found in problem


def test_parse_scenario_of_nothing() -> None:
    with pytest.raises(ScenarioInvalid, match=r"^s\.yaml: expected a mapping .*got nothing$"):
        parse_scenario(None, source=SOURCE)


def test_parse_scenario_of_a_plain_dict_has_no_line() -> None:
    data = parse(VALID).dump()
    data["spec"]["targets"]["risk"]["mdoe"] = "one"

    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(data, source="cluster")

    assert caught.value.problems == ["cluster: spec.targets.risk.mdoe: unknown field"]


# --- one problem at a time -------------------------------------------------------------------


def test_wrong_api_version() -> None:
    problem = only_problem(edit("chaos.tse.dev/v1alpha1", "chaos.tse.dev/v1"))

    assert_problem(problem, line=1, path="apiVersion", expected="'chaos.tse.dev/v1alpha1'")
    assert "'chaos.tse.dev/v1'" in problem


def test_wrong_kind() -> None:
    problem = only_problem(edit("kind: ChaosScenario", "kind: Chaos"))

    assert_problem(problem, line=2, path="kind", expected="'ChaosScenario'")
    assert "got 'Chaos'" in problem


def test_missing_required_section() -> None:
    problem = only_problem(VALID.split("  steps:")[0])

    assert_problem(problem, line=5, path="spec.steps", expected="required field is missing")


def test_unknown_field() -> None:
    problem = only_problem(edit("mode: one", "mdoe: one"))

    assert_problem(problem, line=10, path="spec.targets.risk.mdoe", expected="unknown field")


def test_wrong_type() -> None:
    problem = only_problem(edit("selector: {app: redis}", "selector: app"))

    assert_problem(problem, line=12, path="spec.targets.redis.selector", expected="dictionary")
    assert "'app'" in problem


def test_wrong_type_of_number() -> None:
    text = edit(
        "      tcp: {target: risk, port: 7000}\n  steps:",
        "      tcp: {target: risk, port: 7000}\n      minSuccessRate: lots\n  steps:",
    )
    problem = only_problem(text)

    assert_problem(problem, line=20, path="spec.during[0].minSuccessRate", expected="number")


def test_unknown_mode() -> None:
    problem = only_problem(edit("mode: one", "mode: some"))

    assert_problem(problem, line=10, path="spec.targets.risk.mode", expected="'percent'")
    assert "got 'some'" in problem


def test_empty_selector() -> None:
    problem = only_problem(edit("selector: {app: redis}", "selector: {}"))

    assert_problem(problem, line=12, path="spec.targets.redis.selector", expected="empty selector")


def test_mode_fixed_without_value() -> None:
    problem = only_problem(edit("mode: one", "mode: fixed"))

    assert_problem(problem, line=8, path="spec.targets.risk", expected="mode fixed needs a value")


def test_mode_percent_without_value() -> None:
    problem = only_problem(edit("mode: one", "mode: percent"))

    assert_problem(problem, line=8, path="spec.targets.risk", expected="mode percent needs a value")


def test_mode_one_with_value() -> None:
    problem = only_problem(edit("mode: one", "mode: one\n      value: 2"))

    assert_problem(problem, line=8, path="spec.targets.risk", expected="mode one takes no value")


def test_percent_over_100() -> None:
    problem = only_problem(edit("mode: one", "mode: percent\n      value: 150"))

    assert_problem(problem, line=8, path="spec.targets.risk", expected="from 1 to 100")


def test_value_below_one() -> None:
    problem = only_problem(edit("mode: one", "mode: fixed\n      value: 0"))

    assert_problem(
        problem, line=11, path="spec.targets.risk.value", expected="greater than or equal to 1"
    )


def test_check_with_two_kinds() -> None:
    text = edit(
        "      tcp: {target: risk, port: 7000}\n      within: 5s",
        "      tcp: {target: risk, port: 7000}\n      command: {argv: ['true']}\n      within: 5s",
    )
    problem = only_problem(text)

    assert_problem(problem, line=14, path="spec.steadyState[0]", expected="expected exactly one of")
    assert "found tcp, command" in problem


def test_check_with_no_kind() -> None:
    problem = only_problem(
        edit("      tcp: {target: risk, port: 7000}\n      within: 5s", "      within: 5s")
    )

    assert_problem(problem, line=14, path="spec.steadyState[0]", expected="expected exactly one of")
    assert "found none" in problem


def test_fault_with_no_action() -> None:
    problem = only_problem(edit("        kill: {target: risk}\n", "        {}\n"))

    assert "spec.steps[0].fault" in problem
    assert (
        "expected exactly one of kill, restart, stop, pause, scale, isolate, rolloutRestart, "
        "latency, bandwidth, partition, reset; found none" in problem
    )


def test_fault_naming_an_undefined_target() -> None:
    problem = only_problem(edit("kill: {target: risk}", "kill: {target: riks}"))

    assert_problem(problem, line=23, path="spec.steps[0].fault.kill.target", expected="'riks'")
    assert "spec.targets does not define" in problem
    assert "redis, risk" in problem


def test_check_naming_an_undefined_target() -> None:
    text = edit(
        "      tcp: {target: risk, port: 7000}\n      within",
        "      tcp: {target: nope, port: 7000}\n      within",
    )
    problem = only_problem(text)

    assert_problem(problem, line=15, path="spec.steadyState[0].tcp.target", expected="'nope'")


def test_after_check_naming_an_undefined_target() -> None:
    problem = only_problem(
        edit(
            "          tcp: {target: risk, port: 7000}", "          tcp: {target: gone, port: 7000}"
        )
    )

    assert_problem(problem, line=26, path="spec.steps[0].after[0].tcp.target", expected="'gone'")


def test_redis_registry_naming_an_undefined_redis_target() -> None:
    text = edit(
        "      tcp: {target: risk, port: 7000}\n      within",
        "      redisRegistry: {service: risk-monitor, redis: {target: redsi, port: 6379}}\n"
        "      within",
    )
    problem = only_problem(text)

    assert_problem(
        problem, line=15, path="spec.steadyState[0].redisRegistry.redis.target", expected="'redsi'"
    )


def test_probe_with_target_but_no_port() -> None:
    problem = only_problem(
        edit(
            "      tcp: {target: risk, port: 7000}\n      within",
            "      tcp: {target: risk}\n      within",
        )
    )

    assert_problem(
        problem,
        line=15,
        path="spec.steadyState[0].tcp",
        expected="a tcp check of a target needs a port",
    )


def test_probe_with_address_needs_no_target() -> None:
    scenario = parse(
        edit(
            "      tcp: {target: risk, port: 7000}\n      within",
            "      tcp: {address: '127.0.0.1:7000'}\n      within",
        )
    )

    assert scenario.spec.steady_state[0].tcp is not None
    assert scenario.spec.steady_state[0].tcp.address == "127.0.0.1:7000"


def test_duplicate_check_names() -> None:
    problem = only_problem(edit("name: risk up", "name: risk serving"))

    assert_problem(problem, line=18, path="spec.during[0].name", expected="duplicate check name")
    assert "'risk serving'" in problem
    assert "spec.steadyState[0]" in problem


def test_duplicate_step_names() -> None:
    problem = only_problem(VALID + "    - name: crash\n      fault: {kill: {target: risk}}\n")

    assert_problem(problem, line=27, path="spec.steps[1].name", expected="duplicate step name")
    assert "'crash'" in problem


def test_kill_with_a_duration() -> None:
    problem = only_problem(edit("      after:", "      duration: 5s\n      after:"))

    assert_problem(
        problem, line=21, path="spec.steps[0]", expected="a kill fault takes no duration"
    )


@pytest.mark.parametrize("action", ["stop", "pause"])
def test_timed_fault_without_duration(action: str) -> None:
    problem = only_problem(edit("kill: {target: risk}", f"{action}: {{target: risk}}"))

    assert_problem(
        problem, line=21, path="spec.steps[0]", expected=f"a {action} fault needs a duration"
    )


def test_timed_fault_with_zero_duration() -> None:
    text = edit("kill: {target: risk}", "pause: {target: risk}")
    problem = only_problem(edit("      after:", "      duration: 0s\n      after:", text))

    assert_problem(problem, line=21, path="spec.steps[0]", expected="greater than zero")


def test_timed_fault_with_duration_loads() -> None:
    text = edit("kill: {target: risk}", "stop: {target: risk, gracePeriod: 2s}")
    scenario = parse(edit("      after:", "      duration: 1m\n      after:", text))

    step = scenario.spec.steps[0]
    assert step.duration == 60.0
    assert step.fault.stop is not None
    assert step.fault.stop.grace_period == 2.0


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("5 seconds", "expected a duration such as 250ms, 30s or 5m, got '5 seconds'"),
        ("-5s", "got '-5s'"),
        ("-5", "expected a duration with a unit such as 5s, got -5"),
    ],
)
def test_bad_durations(duration: str, expected: str) -> None:
    text = edit("kill: {target: risk}", "pause: {target: risk}")
    problem = only_problem(edit("      after:", f"      duration: {duration}\n      after:", text))

    assert_problem(problem, line=24, path="spec.steps[0].duration", expected=expected)


def test_bad_timeout() -> None:
    problem = only_problem(VALID + "  timeout: 0s\n")

    assert_problem(problem, line=27, path="spec.timeout", expected="greater than 0")


def test_min_success_rate_above_one() -> None:
    text = edit(
        "      tcp: {target: risk, port: 7000}\n  steps:",
        "      tcp: {target: risk, port: 7000}\n      minSuccessRate: 1.5\n  steps:",
    )
    problem = only_problem(text)

    assert_problem(
        problem, line=20, path="spec.during[0].minSuccessRate", expected="less than or equal to 1"
    )


def test_within_on_a_during_check_is_unknown() -> None:
    text = edit(
        "      tcp: {target: risk, port: 7000}\n  steps:",
        "      tcp: {target: risk, port: 7000}\n      within: 5s\n  steps:",
    )
    problem = only_problem(text)

    assert_problem(problem, line=20, path="spec.during[0].within", expected="unknown field")


@pytest.mark.parametrize("name", ["Risk_Crash", "-risk", "risk-", "risk crash"])
def test_invalid_metadata_name(name: str) -> None:
    problem = only_problem(edit("name: risk-crash", f"name: '{name}'"))

    assert_problem(problem, line=4, path="metadata.name", expected="pattern")
    assert repr(name) in problem


# --- several problems ------------------------------------------------------------------------


def test_every_field_problem_is_reported() -> None:
    text = edit("mode: one", "mdoe: one")
    text = edit("name: risk-crash", "name: Risk_Crash", text)
    text = edit("selector: {app: redis}", "selector: {}", text)
    text = edit("kind: ChaosScenario", "kind: Chaos", text)

    problems = problems_of(text)

    assert len(problems) == 4, problems
    assert [p.split(":")[1] for p in problems] == ["2", "4", "10", "12"]
    assert_problem(problems[0], line=2, path="kind", expected="'ChaosScenario'")
    assert_problem(problems[1], line=4, path="metadata.name", expected="pattern")
    assert_problem(problems[2], line=10, path="spec.targets.risk.mdoe", expected="unknown field")
    assert_problem(problems[3], line=12, path="spec.targets.redis.selector", expected="empty")


def test_every_reference_problem_is_reported() -> None:
    text = edit("kill: {target: risk}", "kill: {target: riks}")
    text = edit("name: risk up", "name: risk serving", text)
    text = edit("          tcp: {target: risk, port: 7000}", "          tcp: {target: gone}", text)

    problems = problems_of(text)

    assert len(problems) == 3, problems
    joined = "\n".join(problems)
    assert "s.yaml:23: spec.steps[0].fault.kill.target: names target 'riks'" in joined
    assert "s.yaml:18: spec.during[0].name: duplicate check name 'risk serving'" in joined
    assert "s.yaml:26: spec.steps[0].after[0].tcp.target: names target 'gone'" in joined


def test_problems_are_one_per_line_in_the_message() -> None:
    text = edit("mode: one", "mdoe: one")
    text = edit("name: risk-crash", "name: Risk_Crash", text)

    with pytest.raises(ScenarioInvalid) as caught:
        parse(text)

    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{SOURCE}:") for line in lines)
