"""Reading a YAML file: bytes, YAML and shape each refused with FILE:LINE, quickly, never with
a traceback; what a scenario cannot hold refused where it must be plain."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.loading import load_scenario, plain
from test_coordinator.scenario.reading import load_document, load_yaml

from tests.unit.scenario.test_loading import SOURCE, TRACEBACK_HINTS, VALID, edit, only_problem


def load_plain(text: str) -> object:
    return load_document(text, source=SOURCE, plain_values=True).data


def problem_of_file(path: Path) -> str:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    for hint in TRACEBACK_HINTS:
        assert hint not in problem, problem
    return problem


def test_a_latin_1_byte_names_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(VALID.replace("Crash the", "Cr\xe9sh the").encode("latin-1"))

    assert problem_of_file(path) == (
        f"{path}:6: not UTF-8: byte 0xe9 at column 18; save the file as UTF-8"
    )


def test_binary_garbage_is_not_utf_8(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(b"apiVersion: x\n\xff\xfe\xfd\x80 binary")

    assert problem_of_file(path).startswith(f"{path}:2: not UTF-8: byte 0xff at column 1")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_utf_16_or_32_file_is_asked_for_in_utf_8(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "wide.yaml"
    path.write_bytes(VALID.encode(encoding))  # with its byte-order mark

    name = encoding.upper()
    assert problem_of_file(path) == f"{path}:1: encoded as {name}; save the file as UTF-8"


def test_utf_16_without_a_byte_order_mark_shows_as_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_bytes(VALID.encode("utf-16-le"))

    problem = problem_of_file(path)
    assert problem == (
        f"{path}:1: a NUL byte at column 2; a scenario is UTF-8 text (is it UTF-16?)"
    )


def test_a_nul_byte_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_bytes(VALID.replace("mode: one", "mode: o\0ne").encode())

    assert problem_of_file(path) == f"{path}:10: a NUL byte at column 14; a scenario is UTF-8 text"


def test_a_utf_8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode())

    assert load_scenario(path).metadata.name == "risk-crash"


def test_a_control_character_names_its_line() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_yaml(edit("mode: one", "mode: o\x01ne"), source=SOURCE)

    assert str(caught.value) == (
        f"{SOURCE}:10: malformed YAML: the character U+0001 is not allowed"
    )


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)

    assert problem_of_file(path) == f"{path}: cannot read: a FIFO, not a regular file"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert problem_of_file(tmp_path) == f"{tmp_path}: cannot read: a directory, not a regular file"


def test_a_file_over_a_mebibyte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(VALID + "#" * (1024 * 1024))

    assert problem_of_file(path) == f"{path}: larger than 1024 KiB; a scenario is a few kilobytes"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[" * 1000, 1),
        ("{a: " * 1000, 1),
        ("spec:\n" + "".join(f"{'  ' * i}- \n" for i in range(1, 100)), 65),
        ("a:\n" + "".join(f"{' ' * i}a:\n" for i in range(1, 1000)), 65),
    ],
    ids=["flow-lists", "flow-maps", "block-lists", "block-maps"],
)
def test_nesting_beyond_64_levels_is_refused_at_its_line(text: str, line: int) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_yaml(text, source=SOURCE)

    assert str(caught.value) == (
        f"{SOURCE}:{line}: nested more than 64 levels deep; a scenario needs about ten"
    )


def test_nesting_of_64_levels_loads() -> None:
    assert load_yaml("a: " + "[" * 63 + "]" * 63, source=SOURCE) is not None


def billion_laughs(levels: int) -> str:
    lines = ["metadata:", "  lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"  lol{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def test_aliases_expanding_beyond_10000_nodes_are_refused() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_yaml(billion_laughs(9), source=SOURCE)

    assert str(caught.value).startswith(f"{SOURCE}:5: more than 10,000 YAML nodes (an alias ")


def test_aliases_within_the_limit_load() -> None:
    assert len(load_yaml(billion_laughs(3), source=SOURCE)["metadata"]["lol2"]) == 10


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_yaml("a: &x [1, {b: *x}]\n", source=SOURCE)

    assert str(caught.value) == f"{SOURCE}:1: alias *x refers to a node that contains it"


def test_an_undefined_alias_names_its_line() -> None:
    with pytest.raises(ScenarioInvalid, match=r"^s\.yaml:2: malformed YAML: .*undefined"):
        load_yaml("a: 1\nb: *nowhere\n", source=SOURCE)


def test_a_document_that_is_not_a_mapping_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("# a comment\n\n- a\n- b\n")
    assert problem_of_file(path) == f"{path}:3: expected a mapping (a ChaosScenario), got a list"

    path.write_text("# a comment\n---\njust words\n")
    assert problem_of_file(path) == f"{path}:3: expected a mapping (a ChaosScenario), got a string"


def test_a_long_value_is_not_echoed_whole() -> None:
    problem = only_problem(edit("mode: one", f"mode: {'x' * 100_000}"))

    assert problem.startswith(f"{SOURCE}:10: spec.targets.risk.mode: input should be ")
    assert "… (100000 characters)" in problem
    assert len(problem) < 300


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\n? {b: 1}\n: x\n", 2),
        ("a: 1\n? [b]\n: x\n", 2),
        ("a: &m {b: 1}\n*m : 2\n", 2),
        ("a: {[b]: 1}\n", 1),
    ],
)
def test_a_list_or_mapping_as_a_key_is_refused(text: str, line: int) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_plain(text)

    assert str(caught.value) == (
        f"{SOURCE}:{line}: a key must be a plain value (a name), not a list or a mapping"
    )


def test_an_alias_of_a_plain_value_may_be_a_key() -> None:
    assert load_plain("a: &k b\n*k : 1\n") == {"a": "b", "b": 1}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a: 1\nb: !!binary aGVsbG8=\n", "!!binary"),
        ("a: 1\nb: !!set {x}\n", "!!set"),
        ("a: 1\nb: !custom x\n", "!custom"),
        ("a: 1\nb: !!python/object:os.system {}\n", "!!python/object:os.system"),
    ],
)
def test_a_tag_beyond_plain_values_is_refused(text: str, shown: str) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_plain(text)

    assert str(caught.value) == (
        f"{SOURCE}:2: the tag {shown} means nothing in a scenario (it holds plain values)"
    )


def test_tags_of_plain_values_are_fine() -> None:
    text = "a: !!str 5\nb: !!map {c: !!int 1}\nd: !!seq [!!float 1.5, !!bool true, !!null ~]\n"

    loaded = plain(load_plain(text))

    assert loaded == {"a": "5", "b": {"c": 1}, "d": [1.5, True, None]}


def test_other_files_may_hold_tags_and_composite_keys() -> None:
    # A compose file's override tags; read for its project name, never validated as a scenario.
    text = "services:\n  api:\n    ports: !reset []\n? [a]\n: b\n"

    assert load_yaml(text, source=SOURCE)["services"]["api"]["ports"].tag.value == "!reset"


def test_a_scenario_file_is_read_with_plain_values(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(VALID.replace("mode: one", "mode: !custom one"))

    assert problem_of_file(path) == (
        f"{path}:10: the tag !custom means nothing in a scenario (it holds plain values)"
    )
