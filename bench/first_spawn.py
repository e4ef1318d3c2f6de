"""The work each CLI does before its run starts the first service, counted in instructions.

Wall times of a 0.3-0.5 s start-up swing by a tenth from one run to the next on a shared
machine; instructions counted by valgrind (callgrind) do not. Each command runs until it forks
its first child (the service, or Chaos Toolkit's shell that starts it) and stops there; the
count is its main thread's. Ours loads what the run needs later in a second thread (named
``import-ahead``), which is not started here: how far it had got at the first fork varied from
run to run, and with it the libraries counted as loaded (798 or 908 million instructions'
worth). Beside ours: the same interpreter importing nothing but the libraries ours had loaded by
then (pydantic, asyncio, ruamel.yaml, ...), which is what no change to test-coordinator's own
code can take away.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_UNTIL_FIRST_FORK = """
import os, sys, threading, _posixsubprocess
modules_file, entry, *argv = sys.argv[1:]
start = threading.Thread.start
def start_unless_ahead(thread):
    if thread.name != "import-ahead":
        start(thread)
threading.Thread.start = start_unless_ahead
def first_fork(*args, **kwargs):
    with open(modules_file, "w") as out:
        out.write("\\n".join(sys.modules))
    os._exit(0)
_posixsubprocess.fork_exec = first_fork
module, _, function = entry.partition(":")
sys.argv = [module, *argv]
sys.exit(getattr(__import__(module, fromlist=[function]), function)())
"""

# A name may be one a package set under another (``os.path``), or no identifier at all
# (``_sysconfigdata__linux_x86_64-linux-gnu``): imported by name, and left if that fails.
_IMPORTING = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""


def main_thread_instructions(argv: list[str], *, cwd: Path) -> int:
    """Instructions the main thread of ``argv`` executes, counted by callgrind."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as scratch:
        out = Path(scratch) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--separate-threads=yes",
             f"--callgrind-out-file={out}", *argv],
            cwd=cwd, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        main = Path(f"{out}-01")  # one file per thread; the main thread's is the first
        totals = (
            re.search(r"^totals: (\d+)", main.read_text(), re.MULTILINE) if main.exists() else None
        )
        if totals is None:
            raise RuntimeError(f"callgrind counted nothing: {done.stderr[-2000:]}")
        return int(totals.group(1))


def until_first_fork(
    python: Path, entry: str, argv: list[str], *, cwd: Path
) -> tuple[int, list[str]]:
    """Instructions of ``entry`` (``module:function``) up to its first fork, and the modules
    loaded by then."""
    with tempfile.NamedTemporaryFile(prefix="bench-modules-", mode="r") as modules:
        count = main_thread_instructions(
            [str(python), "-c", _UNTIL_FIRST_FORK, modules.name, entry, *argv], cwd=cwd
        )
        return count, modules.read().split()


def importing(python: Path, modules: list[str], *, cwd: Path) -> int:
    """Instructions of an interpreter that imports ``modules``, in that order, and ends."""
    return main_thread_instructions([str(python), "-c", _IMPORTING, *modules], cwd=cwd)


def millions(count: int) -> str:
    return f"{count / 1e6:,.0f}M"


def report(cli: Path, ours: Path, theirs: Path, *, chaos: Path | None, directory: Path) -> None:
    """Print the counts for our scenario and, where Chaos Toolkit is installed, its experiment."""
    if shutil.which("valgrind") is None:
        print("  instructions to the first service: skipped: valgrind is not installed")
        return
    python = cli.with_name("python")
    argv = ["run", str(ours), "--history", "off"]
    count, loaded = until_first_fork(python, "test_coordinator.entry:main", argv, cwd=directory)
    libraries = [name for name in loaded if not name.startswith(("test_coordinator", "__main__"))]
    named = ", ".join(name for name in _NAMED if name in libraries)
    line = (
        "  instructions to the first service's start (callgrind, main thread): "
        f"test-coordinator run {millions(count)}; importing only the libraries it has loaded by "
        f"then ({named}, ...) {millions(importing(python, libraries, cwd=directory))}; "
        f"a bare interpreter {millions(importing(python, [], cwd=directory))}"
    )
    if chaos is not None:
        theirs_argv = ["--no-log-file", "run", str(theirs)]
        count_theirs, _ = until_first_fork(
            chaos.with_name("python"), "chaostoolkit.__main__:cli", theirs_argv, cwd=directory
        )
        line += f"; chaos run {millions(count_theirs)}"
    print(line)


_NAMED = ("pydantic", "asyncio", "ruamel.yaml", "ssl", "argparse", "logging")
