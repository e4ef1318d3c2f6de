"""The errors test-coordinator raises on purpose; the CLI maps each to an exit code.

    TestCoordinatorError
    ├── ScenarioInvalid      bad input: the scenario, a stack file, a selection (exit 2)
    └── PlatformError        the platform cannot do what was asked (exit 3)
        ├── ServiceStartFailed       a supervised service did not come up
        ├── PlatformUnavailable      the platform's API did not answer, or said "later" (429,
        │                            5xx, a timeout, a dropped connection): worth trying again
        └── ObservationUnavailable   the coordinator could not look at the system (its own
                                     reads failed): says nothing about the system

A failed check is not an error: it is an observation that ends in a Fail verdict. A check that
could not look at all is neither: it is inconclusive.
"""

from __future__ import annotations

__all__ = [
    "ObservationUnavailable",
    "PlatformError",
    "PlatformUnavailable",
    "ScenarioInvalid",
    "ServiceStartFailed",
    "TestCoordinatorError",
]


class TestCoordinatorError(Exception):
    """Base of every error the tool reports as a one-line message instead of a traceback."""

    __test__ = False  # not a pytest test class, despite the name
    exit_code = 3


class ScenarioInvalid(TestCoordinatorError):
    """Input that cannot run: each problem names the file, the field and what was expected."""

    exit_code = 2

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class PlatformError(TestCoordinatorError):
    exit_code = 3


class ServiceStartFailed(PlatformError):
    def __init__(self, service: str, reason: str, output_tail: str) -> None:
        self.service = service
        self.output_tail = output_tail
        message = f"service {service!r} did not start: {reason}"
        if output_tail:
            message += "\n--- last output of " + service + " ---\n" + output_tail
        super().__init__(message)


class PlatformUnavailable(PlatformError):
    """A call to the platform failed in a way that passes (the API server busy, restarting or
    out of reach) after its own retries ran out: the caller may try again later."""


class ObservationUnavailable(PlatformError):
    """The coordinator's own reads failed (the API server did not answer, a watch not yet
    listed or long broken), so it cannot tell what the system is doing. A check that meets this
    is inconclusive, never failed: the failure is the coordinator's, not the system's."""
