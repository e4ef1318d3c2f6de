"""The terminal shows names, messages and service output as they are: never read as markup.

The consoles here are rich's defaults (markup and emoji on), so that what is tested is that
every value goes out as Text, whichever console prints it.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from test_coordinator.engine.journal import JournalEntry
from test_coordinator.platforms.base import Workload
from test_coordinator.report import TerminalObserver, render_suite, render_summary
from test_coordinator.report.text import shown, styled, text_console
from test_coordinator.scenario.model import FaultSpec
from test_coordinator.scenario.status import CheckStatus, FaultStatus, When

from tests.unit.report.sample_result import START, status

# Each would crash rich (MarkupError), vanish, or be rewritten if read as markup or emoji.
HOSTILE = [
    "[/x]",
    "[/red]",
    "[bold]x.yaml",
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "[test-coordinator] api exited with code 4",
    "[link=http://evil]click[/link]",
    ":thumbs_up: :smile:",
    "\\[escaped]",
]


def default_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300, force_terminal=False, color_system=None), out


@pytest.mark.parametrize("value", HOSTILE)
def test_a_summary_prints_every_value_as_it_is(value: str) -> None:
    console, out = default_console()
    result = status()
    result.message = f"failed: {value}"
    result.checks[0].name = f"check {value}"
    result.checks[0].observed = f"observed {value}"
    result.faults[0].message = f"SIGSTOP {value}"
    result.faults[0].workload = f"api {value}"

    render_summary(console, f"scenario {value}", result)

    text = out.getvalue()
    for shown_as in ("failed: ", "check ", "observed ", "SIGSTOP ", "api ", "scenario "):
        assert f"{shown_as}{value}" in text, (shown_as, text)


@pytest.mark.parametrize("value", HOSTILE)
def test_progress_lines_print_every_value_as_it_is(value: str) -> None:
    console, out = default_console()
    observer = TerminalObserver(console, scenario=f"scenario {value}")
    result = status()
    entry = JournalEntry(
        step=f"step {value}",
        target="api",
        workload=Workload(id=f"workload {value}"),
        fault=FaultSpec.model_validate({"pause": {"target": "api"}}),
        message=f"message {value}",
    )

    observer.run_started(result)
    observer.stage(f"stage {value}")
    observer.fault_applied(entry)
    observer.fault_reverted(entry)
    observer.check_finished(
        CheckStatus(
            name=f"check {value}", when=When.AFTER, passed=False, observed=f"seen {value}", at=START
        )
    )
    observer.run_finished(result)

    text = out.getvalue()
    for part in ("scenario ", "stage ", "workload ", "message ", "check ", "seen "):
        assert f"{part}{value}" in text, (part, text)


def test_a_suite_prints_file_names_as_they_are() -> None:
    console, out = default_console()

    render_suite(console, [(Path("[bold]x.yaml"), 0), (Path("[/x].yaml"), 2)])

    assert "[bold]x.yaml" in out.getvalue()
    assert "[/x].yaml" in out.getvalue()


def test_styles_still_apply_to_the_tool_s_own_words() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=100)

    console.print(styled(("FAIL", "red"), " [/x]"))

    assert out.getvalue() == "\x1b[31mFAIL\x1b[0m [/x]\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\x1b[31mred", "\\x1b[31mred"),
        ("over\rwrite", "over\\x0dwrite"),
        ("bell\x07", "bell\\x07"),
        ("\x9b", "\\x9b"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("caf\udce9.yaml", "caf\\xe9.yaml"),  # a file name byte that was not UTF-8
        ("é ü 日本", "é ü 日本"),
    ],
)
def test_control_characters_and_undecodable_bytes_are_shown_escaped(
    value: str, expected: str
) -> None:
    assert shown(value) == expected


def test_the_text_console_reads_no_markup_even_in_a_plain_string(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = text_console()

    console.print("[/x] :smile: [bold]x")

    assert capsys.readouterr().out == "[/x] :smile: [bold]x\n"


def test_a_fault_status_with_markup_in_every_field_renders() -> None:
    console, out = default_console()
    result = status()
    result.faults = [
        FaultStatus(
            step="[/s]",
            target="[/t]",
            workload="[/w]",
            action="pause",
            applied_at=START,
            message="[/m]",
        )
    ]

    render_summary(console, "x", result)

    assert "fault pause [/w] at 07:00:00: [/m]" in out.getvalue()


def rich_plain(*objects: object) -> str:
    """What rich prints for ``objects`` where it shows no colour, on a console as the CLI's."""
    out = io.StringIO()
    console = Console(
        file=out,
        force_terminal=False,
        color_system=None,
        width=120,
        soft_wrap=True,
        markup=False,
        emoji=False,
        highlight=False,
    )
    console.print(*objects)
    return out.getvalue()


@pytest.mark.parametrize(
    "parts",
    [
        *[((f"value {value}", "red"), f" and {value}") for value in HOSTILE],
        ("tab\there", "\tand\tthere"),
        ("two\nlines", ("\tindented", "dim")),
        (" padded  ",),
        ("x" * 300,),
        ("é ü 日本",),
    ],
)
def test_a_line_off_a_terminal_is_written_as_rich_would_print_it(
    parts: tuple[str | tuple[str, str], ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """Written without rich (start-up time), but byte for byte what rich writes there."""
    line = styled(*parts)

    text_console().print(line, styled("and another [/x]"))

    assert capsys.readouterr().out == rich_plain(line, styled("and another [/x]"))


def test_a_line_is_coloured_where_colour_is_forced(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")

    text_console().print(styled(("FAIL", "red"), " [/x]"))

    assert "\x1b[31mFAIL\x1b[0m [/x]" in capsys.readouterr().out


def test_validate_prints_without_loading_rich(tmp_path: Path) -> None:
    """Rich is a tenth of ``validate``'s start-up; its lines need none of it off a terminal."""
    scenario = Path(__file__).parents[3] / "scenarios" / "local" / "risk-monitor-crash.yaml"
    code = (
        "import sys\n"
        "from test_coordinator.cli import main\n"
        f"code = main(['validate', {str(scenario)!r}])\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'rich'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout
    assert result.stdout.startswith("valid ")


def test_on_a_terminal_the_spinner_shows_each_stage_as_it_is() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=100)
    observer = TerminalObserver(console, scenario="scenario")

    observer.run_started(status())
    observer.stage("stage [/x] :smile:")
    observer.run_finished(status())

    assert out.getvalue().count("stage [/x] :smile:") == 2  # the progress line, the spinner
