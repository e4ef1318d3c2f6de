"""Values the CRD schema (or common sense) refuses are refused by the loader too, naming the
field: ports, HTTP statuses, exit codes, durations, intervals, types, namespaces, the timeout."""

from __future__ import annotations

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.loading import load_yaml, parse_scenario
from test_coordinator.scenario.model import ChaosScenario

SOURCE = "s.yaml"

VALID = """\
apiVersion: chaos.tse.dev/v1alpha1
kind: ChaosScenario
metadata:
  name: limits
spec:
  targets:
    api: {selector: {app: api}}
  steadyState:
    - name: api serving
      tcp: {target: api, port: 7000}
      within: 5s
  during:
    - name: api answers
      http: {target: api, port: http, expectStatus: [200]}
      minSuccessRate: 0.9
  steps:
    - name: freeze
      fault: {scale: {target: api, replicas: 1}}
      duration: 2s
      after:
        - name: api back
          command: {argv: [ping], expectExitCode: 0}
          within: 10s
  timeout: 1m
"""
# 4 name, 10 tcp, 11 within, 14 http, 15 minSuccessRate, 18 fault, 19 duration, 22 command,
# 23 within, 24 timeout


def parse(text: str) -> ChaosScenario:
    return parse_scenario(load_yaml(text, source=SOURCE), source=SOURCE)


def edit(old: str, new: str, text: str = VALID) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def only_problem(text: str) -> str:
    with pytest.raises(ScenarioInvalid) as caught:
        parse(text)
    [problem] = caught.value.problems
    return problem


def test_the_valid_document_is_valid() -> None:
    assert parse(VALID).spec.timeout == 60.0


@pytest.mark.parametrize("port", ["-1", "0", "65536", "1e12", "1.5", "true", '"80"', '" "'])
def test_a_probe_port_is_1_to_65535_or_a_name(port: str) -> None:
    problem = only_problem(edit("port: 7000", f"port: {port}"))

    assert problem.startswith(f"{SOURCE}:10: spec.steadyState[0].tcp.port: "), problem


@pytest.mark.parametrize("port", ["1", "65535", "grpc", "http-alt", "metrics.v2"])
def test_ports_at_the_limits_and_names_are_accepted(port: str) -> None:
    parse(edit("port: 7000", f"port: {port}"))


@pytest.mark.parametrize("address", ["h:0", "h:65536", "h:-1", "h:٨٠", "h:", ":80", "h:1e3"])
def test_an_address_port_is_1_to_65535(address: str) -> None:
    problem = only_problem(edit("{target: api, port: 7000}", f"{{address: '{address}'}}"))

    assert problem.startswith(f"{SOURCE}:10: spec.steadyState[0].tcp: address must be host:port")


def test_an_address_at_the_limit_is_accepted() -> None:
    parse(edit("{target: api, port: 7000}", "{address: 'localhost:65535'}"))


@pytest.mark.parametrize("url", ["http://h:0/", "http://h:65536/", "http://h:٨٠/", "http:///x"])
def test_a_url_names_a_host_and_a_port_in_range(url: str) -> None:
    problem = only_problem(edit("{target: api, port: http, ", f"{{url: '{url}', "))

    assert problem.startswith(f"{SOURCE}:14: spec.during[0].http: url "), problem


@pytest.mark.parametrize("status", ["99", "600", "1000", "-200", "'200'", "200.0"])
def test_expect_status_is_an_http_status(status: str) -> None:
    problem = only_problem(edit("expectStatus: [200]", f"expectStatus: [200, {status}]"))

    assert problem.startswith(f"{SOURCE}:14: spec.during[0].http.expectStatus[1]: "), problem


@pytest.mark.parametrize("code", ["-1", "256", '"0"', "false", "0.0"])
def test_expect_exit_code_is_0_to_255(code: str) -> None:
    problem = only_problem(edit("expectExitCode: 0", f"expectExitCode: {code}"))

    assert problem.startswith(f"{SOURCE}:22: spec.steps[0].after[0].command.expectExitCode: ")


@pytest.mark.parametrize(
    ("old", "new", "line", "path"),
    [
        ("minSuccessRate: 0.9", "minSuccessRate: false", 15, "spec.during[0].minSuccessRate"),
        ("minSuccessRate: 0.9", "minSuccessRate: '0.9'", 15, "spec.during[0].minSuccessRate"),
        ("replicas: 1", "replicas: true", 18, "spec.steps[0].fault.scale.replicas"),
        ("replicas: 1", "replicas: '1'", 18, "spec.steps[0].fault.scale.replicas"),
        ("replicas: 1", "replicas: 1.0", 18, "spec.steps[0].fault.scale.replicas"),
        # An anchored boolean is an int to ruamel; it is still a boolean.
        ("replicas: 1", "replicas: &yes true", 18, "spec.steps[0].fault.scale.replicas"),
        ("api: {selector: {app: api}}", "api: {selector: {app: 1}}", 7, "spec.targets.api"),
    ],
)
def test_a_boolean_or_string_is_not_a_number(old: str, new: str, line: int, path: str) -> None:
    problem = only_problem(edit(old, new))

    assert problem.startswith(f"{SOURCE}:{line}: {path}"), problem


def test_numbers_where_numbers_belong_are_accepted() -> None:
    scenario = parse(edit("minSuccessRate: 0.9", "minSuccessRate: 1"))

    assert scenario.spec.during[0].min_success_rate == 1.0


def test_an_anchored_boolean_is_a_boolean() -> None:
    text = edit(
        "minSuccessRate: 0.9\n",
        "minSuccessRate: 0.9\n    - {name: fresh, redisRegistry: {service: api, "
        "redis: {address: 'h:1'}, newInstance: &yes true}}\n",
    )
    [_, check] = parse(text).spec.during

    assert check.redis_registry is not None and check.redis_registry.new_instance is True


@pytest.mark.parametrize(
    "duration",
    [
        "\uff15s",
        "\u0661\u0660s",
        "9" * 400 + "s",
        "31d",
        "721h",
        "1000000m",
        "2592001s",
        "inf",
        "1e3s",
        "",
    ],
)
def test_a_duration_is_ascii_and_at_most_30_days(duration: str) -> None:
    problem = only_problem(edit("within: 10s", f"within: '{duration}'"))

    assert problem.startswith(f"{SOURCE}:23: spec.steps[0].after[0].within: expected a duration")


def test_thirty_days_is_the_longest_duration() -> None:
    text = edit("within: 10s", "within: 720h", edit("timeout: 1m", "timeout: 721h"))
    problem = only_problem(text)
    assert "spec.timeout: expected a duration of at most 30 days" in problem

    assert parse(edit("timeout: 1m", "timeout: 720h")).spec.timeout == 720 * 3600


def test_a_long_duration_is_not_echoed_whole() -> None:
    problem = only_problem(edit("within: 10s", f"within: '{'9' * 400}s'"))

    assert "at most 32 characters, got 401" in problem
    assert len(problem) < 200


@pytest.mark.parametrize(
    ("old", "new", "line", "path"),
    [
        ("      within: 5s", "      within: 5s\n      interval: 0s", 12, "spec.steadyState[0]"),
        ("minSuccessRate: 0.9", "minSuccessRate: 0.9\n      interval: 49ms", 16, "spec.during[0]"),
        ("within: 10s", "within: 10s\n          interval: 1ms", 24, "spec.steps[0].after[0]"),
    ],
)
def test_an_interval_is_at_least_50ms(old: str, new: str, line: int, path: str) -> None:
    problem = only_problem(edit(old, new))

    assert problem.startswith(f"{SOURCE}:{line}: {path}.interval: expected an interval of at ")
    assert "at least 50ms" in problem


def test_an_interval_of_50ms_is_accepted() -> None:
    text = edit("minSuccessRate: 0.9", "minSuccessRate: 0.9\n      interval: 50ms")

    assert parse(text).spec.during[0].interval == 0.05


@pytest.mark.parametrize("timeout", ["0s", "0ms"])
def test_a_probe_timeout_is_more_than_zero(timeout: str) -> None:
    problem = only_problem(edit("      within: 5s", f"      within: 5s\n      timeout: {timeout}"))

    assert problem.startswith(f"{SOURCE}:12: spec.steadyState[0].timeout: expected a duration")


@pytest.mark.parametrize(
    "namespace", ["UPPER", "has space", "-dash", "dash-", "a.b", "x" * 64, "x" * 100_000, "é"]
)
def test_a_namespace_is_a_dns_label(namespace: str) -> None:
    problem = only_problem(edit("  name: limits", f"  name: limits\n  namespace: '{namespace}'"))

    assert problem.startswith(f"{SOURCE}:5: metadata.namespace: "), problem
    assert len(problem) < 300  # a 100,000-character value is not echoed whole


def test_a_namespace_of_63_characters_is_accepted() -> None:
    scenario = parse(edit("  name: limits", f"  name: limits\n  namespace: {'n' * 63}"))

    assert scenario.metadata.namespace == "n" * 63


def test_the_name_pattern_is_named_intact() -> None:
    problem = only_problem(edit("name: limits", "name: '[/x]'"))

    assert "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" in problem
    assert "'[/x]'" in problem


# --- the timeout against the run's own deadlines ---------------------------------------------


def test_a_timeout_shorter_than_the_run_is_refused_naming_the_budget() -> None:
    # 2 x 5s (steady state) + 2s + 10s (the step) + 0s (audit) = 22s
    problem = only_problem(edit("timeout: 1m", "timeout: 21s"))

    assert problem.startswith(f"{SOURCE}:24: spec.timeout: 21s is shorter than the run's own ")
    assert "deadlines, 22s" in problem
    assert "give a timeout of at least 22s" in problem


def test_a_timeout_equal_to_the_run_is_accepted() -> None:
    assert parse(edit("timeout: 1m", "timeout: 22s")).spec.timeout == 22.0


def test_the_budget_counts_every_step_and_the_audit() -> None:
    text = edit(
        "  timeout: 1m\n",
        "    - name: again\n"
        "      fault: {kill: {target: api}}\n"
        "      after: [{name: back again, tcp: {target: api, port: 7000}, within: 30s}]\n"
        "  audit:\n"
        "    - {name: trail, workloadReady: {name: api}, within: 7s}\n"
        "  timeout: 58s\n",
    )
    problem = only_problem(text)  # 10s + 12s + 30s + 7s = 59s

    assert "58s is shorter than the run's own deadlines, 59s" in problem


def test_the_default_timeout_is_named_as_the_default() -> None:
    text = edit("  timeout: 1m\n", "").replace("within: 10s", "within: 11m")
    problem = only_problem(text)

    assert problem.startswith(f"{SOURCE}:5: spec.timeout: 10m (the default) is shorter"), problem
