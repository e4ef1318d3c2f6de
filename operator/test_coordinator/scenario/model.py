"""The ChaosScenario document: what to hit, how, and what must hold before, during and after.

Field names are snake_case in Python and camelCase in YAML, JSON and the CRD (``steadyState``).
Cross-field rules that pydantic cannot place on one field (a check naming an undefined target,
duplicate names) live in ``loading.py`` so that they, too, are reported with a field path.
"""

# No ``from __future__ import annotations`` here: pydantic would evaluate every annotation from
# its string as each class is made: ~10 ms of every start-up, model.py and status.py together.

import re
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from test_coordinator.scenario.durations import Duration, Interval, PositiveDuration
from test_coordinator.scenario.rates import Rate
from test_coordinator.scenario.status import ScenarioStatus

__all__ = [
    "API_VERSION",
    "KIND",
    "NETWORK_FAULTS",
    "AfterCheck",
    "AuditApi",
    "AuditCheck",
    "AuditSinkSpec",
    "AuditTrailProbe",
    "AuditWindow",
    "BandwidthFault",
    "ChaosScenario",
    "CheckSpec",
    "CommandProbe",
    "Direction",
    "DuringCheck",
    "FaultSpec",
    "GrpcHealthProbe",
    "HttpProbe",
    "IsolateFault",
    "LatencyFault",
    "Metadata",
    "Mode",
    "NetworkFault",
    "NoLossProbe",
    "PartitionFault",
    "PortName",
    "Probe",
    "RedisRegistryProbe",
    "RedisStreamSink",
    "ResetFault",
    "RolloutRestartFault",
    "ScaleFault",
    "ScenarioSpec",
    "SteadyStateCheck",
    "Step",
    "TargetSpec",
    "TcpProbe",
    "WorkloadReadyProbe",
]

API_VERSION = "chaos.tse.dev/v1alpha1"
KIND = "ChaosScenario"


class SpecModel(BaseModel):
    """Strict: an unknown field is an error, so a typo never silently does nothing; and a
    value has the type the CRD schema says (``false`` is not the number 0, ``"0"`` is not an
    integer), as an API server would refuse it. Enums still take their names as strings."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        strict=True,
        defer_build=True,
    )


MAX_PORT = 65535
_PORT_NAME = re.compile(r"[-_.A-Za-z0-9]*[A-Za-z][-_.A-Za-z0-9]*")


PortName = Annotated[str, Field(min_length=1, max_length=63, pattern=_PORT_NAME.pattern)]
"""A port's name: letters, digits, ``-``, ``_`` and ``.``, with at least one letter (so that
``"8080"`` is not mistaken for a number)."""


def _port_ref(value: object) -> int | str:
    """One message for both branches (a union would report each type's complaint)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PORT:
        return value
    if isinstance(value, str) and len(value) <= 63 and _PORT_NAME.fullmatch(value):
        return value
    raise ValueError(
        f"expected a port number from 1 to {MAX_PORT}, or the name of a port (letters, digits, "
        "-, _ and ., at least one letter, at most 63 characters)"
    )


PortRef = Annotated[
    int | str,
    PlainValidator(_port_ref),
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            # Kubernetes applies these to the integer branch only, and maxLength to the string.
            "minimum": 1,
            "maximum": MAX_PORT,
            "maxLength": 63,
        }
    ),
]
"""A port number (1-65535), or the name of a port the target declares (``grpc``, ``http``)."""

NonEmptyStr = Annotated[str, Field(min_length=1)]


class Mode(StrEnum):
    ONE = "one"
    ALL = "all"
    FIXED = "fixed"
    PERCENT = "percent"


class TargetSpec(SpecModel):
    """A named selection of workloads, and how many of them a fault hits."""

    selector: dict[NonEmptyStr, str] = Field(json_schema_extra={"minProperties": 1})
    mode: Mode = Field(default=Mode.ONE, strict=False)  # strict would want a Mode, not "one"
    value: int | None = Field(default=None, ge=1, le=1_000_000)

    @field_validator("selector")
    @classmethod
    def _selector_not_empty(cls, selector: dict[str, str]) -> dict[str, str]:
        if not selector:
            raise ValueError("an empty selector would select everything: give at least one label")
        return selector

    @model_validator(mode="after")
    def _value_fits_mode(self) -> Self:
        if self.mode in (Mode.FIXED, Mode.PERCENT) and self.value is None:
            raise ValueError(f"mode {self.mode.value} needs a value (a count or a percentage)")
        if self.mode in (Mode.ONE, Mode.ALL) and self.value is not None:
            raise ValueError(f"mode {self.mode.value} takes no value")
        if self.mode is Mode.PERCENT and self.value is not None and self.value > 100:
            raise ValueError("mode percent takes a value from 1 to 100")
        return self

    def count(self, selected: int) -> int:
        """How many of ``selected`` workloads the mode hits (at least one for a percentage)."""
        match self.mode:
            case Mode.ONE:
                return 1
            case Mode.ALL:
                return selected
            case Mode.FIXED:
                return self.value or 0
            case Mode.PERCENT:
                return max(1, selected * (self.value or 0) // 100)


class Addressed(SpecModel):
    """Where a probe looks: a target and a port (resolved by the platform), or an address."""

    target: str | None = None
    port: PortRef | None = None
    address: str | None = Field(default=None, description="host:port, used as it is")

    @model_validator(mode="after")
    def _one_way_to_address(self) -> Self:
        if self.address is not None and self.target is not None:
            raise ValueError("give either address or target, not both")
        if self.address is not None and not _is_host_port(self.address):
            raise ValueError(f"address must be host:port, got {self.address!r}")
        return self


def _is_host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host.strip()) and _is_port_number(port)


def _is_port_number(text: str) -> bool:
    # ASCII digits only: str.isdigit() also takes "٨٠" and "²".
    return text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PORT


def _url_problem(url: str) -> str | None:
    """What is wrong with an http(s) URL, or None."""
    if not url.startswith(("http://", "https://")):
        return f"url must start with http:// or https://, got {url!r}"
    try:
        parts = urlsplit(url)
    except ValueError as error:
        return f"url {url!r} is not a valid URL: {error}"
    if not parts.hostname:
        return f"url {url!r} names no host"
    # The port as written, after any user@ and any [IPv6] literal.
    _, colon, port = parts.netloc.rpartition("@")[2].rpartition("]")[2].rpartition(":")
    if colon and port and not _is_port_number(port):
        return f"url {url!r}: the port must be a number from 1 to {MAX_PORT}"
    return None


class GrpcHealthProbe(Addressed):
    """grpc.health.v1 ``Check``: passes on SERVING."""

    service: str = ""


class TcpProbe(Addressed):
    """A TCP connection is accepted."""


class HttpProbe(Addressed):
    """An HTTP request answers with an expected status (and body, within a latency bound)."""

    url: str | None = None
    path: str = "/"
    method: Literal["GET", "HEAD", "POST", "PUT", "DELETE"] = "GET"
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(default=[200], min_length=1)
    body_contains: str | None = None
    max_latency: Duration | None = None
    body: str | None = Field(
        default=None, max_length=65536, description="sent with the request (a POST's order)"
    )
    content_type: NonEmptyStr = Field(
        default="application/json", description="the Content-Type of body"
    )

    @model_validator(mode="after")
    def _url_or_target(self) -> Self:
        if self.url is not None and (self.target is not None or self.address is not None):
            raise ValueError("give either url, or target/address with path, not both")
        if self.body is not None and self.method in ("GET", "HEAD"):
            raise ValueError(f"a {self.method} request sends no body: use POST or PUT")
        problem = None if self.url is None else _url_problem(self.url)
        if problem is not None:
            raise ValueError(problem)
        return self


class RedisRegistryProbe(SpecModel):
    """A service is registered in Redis and its heartbeat is fresh.

    ``key`` is a template: the trading ecosystem keeps hashes under ``registry:services:{service}``
    (fields ``registered_at`` and ``last_heartbeat`` among them), refreshed every 30 s with a TTL
    of 90 s by each instance's heartbeat.
    """

    service: NonEmptyStr
    redis: Addressed
    key: str = "registry:services:{service}"
    heartbeat_field: str = "last_heartbeat"
    # The ecosystem's services beat every 30 s (TTL 90 s): one beat late is still fresh.
    max_age: Duration = 45.0
    new_instance: bool = Field(
        default=False,
        description="the registration must be newer than the step's fault (a re-registration)",
    )
    registered_field: str = Field(
        default="registered_at",
        description="the field holding when this instance registered, for newInstance",
    )


class CommandProbe(SpecModel):
    """A command (an argv list, never a shell line) exits with the expected code."""

    argv: list[NonEmptyStr] = Field(min_length=1)
    expect_exit_code: int = Field(default=0, ge=0, le=255)
    output_contains: str | None = None


class AuditApi(Addressed):
    """The audit correlator's HTTP API: a url, or a target and port (or address) with a path."""

    url: str | None = None
    path: str = "/api/v1/audit/events"

    @model_validator(mode="after")
    def _url_or_target(self) -> Self:
        if self.url is not None and (self.target is not None or self.address is not None):
            raise ValueError("give either url, or target/address with path, not both")
        problem = None if self.url is None else _url_problem(self.url)
        if problem is not None:
            raise ValueError(problem)
        return self


class AuditWindow(SpecModel):
    """When a matching event may have happened, relative to the step's fault (elsewhere: the
    run's start)."""

    before: Duration = Field(default=0.0, description="how long before the fault it may be")
    after: Duration | None = Field(default=None, description="how long after; unset: until now")


class AuditTrailProbe(SpecModel):
    """The audit trail holds an event whose fields include ``match``, within ``window``.

    The trail is a Redis stream (``redis`` and ``stream``) or the audit correlator's
    ``GET /api/v1/audit/events`` (``correlator``, which reads its streams itself: ``stream`` is
    not used). An event's time is its ``timeField`` (unix seconds or ISO 8601), else the time in
    its stream entry id.
    """

    redis: Addressed | None = None
    stream: NonEmptyStr = "audit:events"
    correlator: AuditApi | None = None
    match: dict[NonEmptyStr, str] = Field(min_length=1)
    # A factory, not an instance: an instance here would build the model at import (start-up).
    window: AuditWindow = Field(default_factory=AuditWindow)
    time_field: NonEmptyStr = "timestamp"

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.redis is None) == (self.correlator is None):
            raise ValueError("expected exactly one of redis (with stream) or correlator")
        return self


class NoLossProbe(SpecModel):
    """Every sequence number the producer issued since the run began is in the stream once.

    "Since the run began": after the last entry the stream held when the run started. The last
    number issued is the value of ``sequenceKey`` (the producer's counter) when given, else the
    highest number in the stream.
    """

    redis: Addressed
    stream: NonEmptyStr
    sequence_field: NonEmptyStr = "seq"
    sequence_key: NonEmptyStr | None = Field(
        default=None, description="the producer's counter: a Redis key holding the last number"
    )


class WorkloadReadyProbe(SpecModel):
    """A Deployment or StatefulSet has all its replicas available and its pods Ready (on the
    local platform: the service named ``name`` runs and its ready probe passes)."""

    kind: Literal["Deployment", "StatefulSet"] = "Deployment"
    name: NonEmptyStr


PROBE_KINDS = (
    "grpc_health",
    "http",
    "tcp",
    "redis_registry",
    "command",
    "audit_trail",
    "no_loss",
    "workload_ready",
)


def _exactly_one_of(kinds: tuple[str, ...]) -> dict[str, Any]:
    """The schema's form of "exactly one of these fields", which a CRD can enforce."""
    return {"oneOf": [{"required": [to_camel(kind)]} for kind in kinds]}


class Probe(SpecModel):
    """One observation of the system: exactly one kind is set."""

    grpc_health: GrpcHealthProbe | None = None
    http: HttpProbe | None = None
    tcp: TcpProbe | None = None
    redis_registry: RedisRegistryProbe | None = None
    command: CommandProbe | None = None
    audit_trail: AuditTrailProbe | None = None
    no_loss: NoLossProbe | None = None
    workload_ready: WorkloadReadyProbe | None = None
    timeout: PositiveDuration = Field(default=2.0, description="limit of one observation")

    model_config = ConfigDict(json_schema_extra=_exactly_one_of(PROBE_KINDS))

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Self:
        kinds = [kind for kind in PROBE_KINDS if getattr(self, kind) is not None]
        if len(kinds) != 1:
            names = ", ".join(to_camel(kind) for kind in PROBE_KINDS)
            found = ", ".join(to_camel(kind) for kind in kinds) or "none"
            raise ValueError(f"expected exactly one of {names}; found {found}")
        return self

    @property
    def kind(self) -> str:
        return next(to_camel(kind) for kind in PROBE_KINDS if getattr(self, kind) is not None)

    @property
    def spec(self) -> BaseModel:
        spec: BaseModel = next(
            getattr(self, kind) for kind in PROBE_KINDS if getattr(self, kind) is not None
        )
        return spec


class CheckSpec(Probe):
    name: NonEmptyStr


class SteadyStateCheck(CheckSpec):
    """Holds before the first fault and again after the last step."""

    within: Duration = Field(default=0.0, description="keep polling up to this long; 0: once")
    interval: Interval = 0.1


class DuringCheck(CheckSpec):
    """Observed continuously while faults are active; passes on a high enough success rate."""

    interval: Interval = 0.25
    min_success_rate: float = Field(default=1.0, ge=0.0, le=1.0)


class AfterCheck(CheckSpec):
    """Must pass within a deadline after a step; the wait is the measured recovery time."""

    within: Duration = 30.0
    interval: Interval = Field(default=0.1, description="poll interval")


class AuditCheck(CheckSpec):
    """Verified after the final steady state, against what the run left in the audit trail."""

    within: Duration = Field(default=0.0, description="keep polling up to this long; 0: once")
    interval: Interval = 0.25


class RedisStreamSink(SpecModel):
    redis: Addressed
    stream: NonEmptyStr = "audit:events"


class AuditSinkSpec(SpecModel):
    """Where the coordinator writes its own audit events: run started, each fault applied and
    reverted, the verdict (with scenario, run id and times)."""

    redis_stream: RedisStreamSink | None = None
    http: AuditApi | None = Field(default=None, description="POST, as the correlator takes them")
    source: NonEmptyStr = "test-coordinator"

    @model_validator(mode="after")
    def _one_sink(self) -> Self:
        if (self.redis_stream is None) == (self.http is None):
            raise ValueError("expected exactly one of redisStream, http")
        return self


class TargetRef(SpecModel):
    target: NonEmptyStr


class KillFault(TargetRef):
    """A crash: SIGKILL, no clean-up; whatever supervises the workload decides what follows."""


class GracefulStop(TargetRef):
    grace_period: Duration = 10.0
    require_graceful_stop: bool = Field(
        default=False,
        description="the step fails when the workload did not exit within the grace period "
        "and needed SIGKILL",
    )


class RestartFault(GracefulStop):
    """A clean restart: SIGTERM, SIGKILL after the grace period, then start again."""


class StopFault(GracefulStop):
    """Stopped (SIGTERM, then SIGKILL after the grace period) for the step's duration."""


class PauseFault(TargetRef):
    """Frozen (SIGSTOP or cgroup freeze) for the step's duration, then resumed."""


class ScaleFault(TargetRef):
    """The selected pods' Deployment or StatefulSet scaled to ``replicas`` for the step's
    duration, then back to its original count (recorded before the scale)."""

    replicas: int = Field(ge=0, le=10_000)


class IsolateFault(TargetRef):
    """The selected pods cut off the network (a deny-all NetworkPolicy) for the step's duration."""


class RolloutRestartFault(TargetRef):
    """The selected pods' Deployment or StatefulSet restarted (``kubectl rollout restart``)."""


Direction = Literal["both", "upstream", "downstream"]
"""Which way a network fault acts: ``upstream`` is what clients send to the service,
``downstream`` what it answers; ``both`` is each of them."""


def _whole_milliseconds(seconds: float) -> float:
    if not (seconds * 1000).is_integer():
        raise ValueError(
            "expected whole milliseconds (the proxy delays in steps of 1ms), "
            f"got {seconds * 1000:g}ms"
        )
    return seconds


Milliseconds = Annotated[Duration, AfterValidator(_whole_milliseconds)]


def _proxied_port(value: object) -> str:
    if isinstance(value, str) and len(value) <= 63 and _PORT_NAME.fullmatch(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            "expected the name of a port (grpc, http), not its number: the proxy in front of "
            "a port is declared by the port's name"
        )
    raise ValueError(
        "expected the name of a port (letters, digits, -, _ and ., at least one letter, at most "
        "63 characters)"
    )


ProxiedPort = Annotated[
    str,
    PlainValidator(_proxied_port),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 63, "pattern": f"^{_PORT_NAME.pattern}$"}
    ),
]


class NetworkFault(TargetRef):
    """A fault on the traffic to one of the target's ports, through the fault proxy in front of
    it; held for the step's duration, then removed."""

    port: ProxiedPort = Field(
        description="the name of the port a proxy fronts (grpc): the proxy is declared by name"
    )
    percent: int = Field(
        default=100, ge=1, le=100, description="the share of connections affected, 1-100"
    )


class LatencyFault(NetworkFault):
    """Every chunk forwarded ``delay`` late (give or take ``jitter``), in each direction given:
    with ``both``, a request and its answer are each delayed."""

    delay: Milliseconds
    jitter: Milliseconds = 0.0
    direction: Direction = "both"

    @field_validator("delay")
    @classmethod
    def _some_delay(cls, delay: float) -> float:
        if delay <= 0:
            raise ValueError("expected a delay of at least 1ms")
        return delay


class BandwidthFault(NetworkFault):
    """Traffic limited to ``rate`` (``64KiB/s``, ``1MB/s``) in each direction given; the proxy
    paces in whole kB/s (1000 bytes), so a rate is rounded to the nearest and at least 1kB/s."""

    rate: Rate
    direction: Direction = "both"

    @field_validator("rate")
    @classmethod
    def _at_least_one_kilobyte(cls, rate: float) -> float:
        if rate < 1000:
            raise ValueError("expected a rate of at least 1kB/s (the proxy paces in kB/s)")
        return rate


class PartitionFault(NetworkFault):
    """Connections are accepted but nothing passes in the directions given (a blackhole:
    clients time out); what was held passes once the partition is removed."""

    direction: Direction = "both"


class ResetFault(NetworkFault):
    """New and open connections are reset (TCP RST) for the step's duration."""


FAULT_KINDS = (
    "kill",
    "restart",
    "stop",
    "pause",
    "scale",
    "isolate",
    "rollout_restart",
    "latency",
    "bandwidth",
    "partition",
    "reset",
)
NETWORK_FAULTS = frozenset({"latency", "bandwidth", "partition", "reset"})
TIMED_FAULTS = frozenset({"stop", "pause", "scale", "isolate"}) | NETWORK_FAULTS


class FaultSpec(SpecModel):
    kill: KillFault | None = None
    restart: RestartFault | None = None
    stop: StopFault | None = None
    pause: PauseFault | None = None
    scale: ScaleFault | None = None
    isolate: IsolateFault | None = None
    rollout_restart: RolloutRestartFault | None = None
    latency: LatencyFault | None = None
    bandwidth: BandwidthFault | None = None
    partition: PartitionFault | None = None
    reset: ResetFault | None = None

    model_config = ConfigDict(json_schema_extra=_exactly_one_of(FAULT_KINDS))

    @model_validator(mode="after")
    def _exactly_one_action(self) -> Self:
        actions = [to_camel(kind) for kind in FAULT_KINDS if getattr(self, kind) is not None]
        if len(actions) != 1:
            raise ValueError(
                f"expected exactly one of {', '.join(to_camel(k) for k in FAULT_KINDS)}; "
                f"found {', '.join(actions) or 'none'}"
            )
        return self

    @property
    def _kind(self) -> str:
        return next(kind for kind in FAULT_KINDS if getattr(self, kind) is not None)

    @property
    def action(self) -> str:
        """The action as YAML names it (``kill``, ``rolloutRestart``)."""
        return to_camel(self._kind)

    @property
    def params(self) -> TargetRef:
        params: TargetRef = getattr(self, self._kind)
        return params

    @property
    def target(self) -> str:
        return self.params.target

    @property
    def network(self) -> NetworkFault | None:
        """The fault's parameters when it acts on traffic through a proxy, else None."""
        params = self.params
        return params if isinstance(params, NetworkFault) else None


class Step(SpecModel):
    name: NonEmptyStr
    fault: FaultSpec
    duration: Duration | None = Field(
        default=None,
        description="how long a timed fault (stop, pause, scale, isolate, or a network fault) "
        "lasts before the engine reverts it",
    )
    after: list[AfterCheck] = []

    @model_validator(mode="after")
    def _duration_fits_fault(self) -> Self:
        action = self.fault.action
        if action in TIMED_FAULTS and not self.duration:
            raise ValueError(f"a {action} fault needs a duration greater than zero (e.g. 5s)")
        if action not in TIMED_FAULTS and self.duration is not None:
            timed = ", ".join(sorted(to_camel(kind) for kind in TIMED_FAULTS))
            raise ValueError(f"a {action} fault takes no duration; only {timed}")
        return self


class ScenarioSpec(SpecModel):
    description: str = ""
    targets: dict[NonEmptyStr, TargetSpec] = Field(min_length=1)
    steady_state: list[SteadyStateCheck] = []
    during: list[DuringCheck] = []
    steps: list[Step] = Field(min_length=1)
    audit: list[AuditCheck] = Field(default=[], description="verified after the final steady state")
    audit_sink: AuditSinkSpec | None = None
    timeout: Duration = Field(default=600.0, gt=0)
    schedule: str | None = Field(
        default=None,
        description="cron (5 fields, or 6 with seconds last): rerun at each tick (Kubernetes)",
        pattern=r"^\S+( \S+){4,5}$",
    )
    concurrency_policy: Literal["Forbid", "Replace", "Allow"] = Field(
        default="Forbid",
        description="a scheduled run due while one is running: skip it, replace it, or run both",
    )
    history_limit: int = Field(default=10, ge=0, le=100, description="runs kept in status.history")

    @field_validator("schedule")
    @classmethod
    def _schedule_is_cron(cls, schedule: str | None) -> str | None:
        if schedule is None:
            return None
        from croniter import croniter  # only a scheduled scenario pays for it

        if not croniter.is_valid(schedule):
            raise ValueError(f"expected a cron expression such as '*/5 * * * *', got {schedule!r}")
        return schedule


DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
"""Lower-case letters, digits and ``-``, starting and ending with a letter or digit (RFC 1123)."""


class Metadata(BaseModel):
    """Kubernetes object metadata; fields the API server adds are kept but not modelled."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    name: str = Field(pattern=DNS_LABEL, max_length=253)
    namespace: str | None = Field(default=None, pattern=DNS_LABEL, max_length=63)
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class ChaosScenario(SpecModel):
    api_version: Literal["chaos.tse.dev/v1alpha1"]
    kind: Literal["ChaosScenario"]
    metadata: Metadata
    spec: ScenarioSpec
    status: ScenarioStatus | None = None

    def dump(self) -> dict[str, Any]:
        """The document as YAML or JSON would hold it (camelCase, durations as strings)."""
        dumped: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped
