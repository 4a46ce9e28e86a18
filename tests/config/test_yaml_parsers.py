"""libyaml parses configs when PyYAML has it; the result is the pure-Python parser's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from okr_sync import yamlpos

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*ROOT.glob("examples/**/*.yaml"), *ROOT.glob("examples/**/*.yml"),
     *ROOT.glob("okr_sync/cli/templates/*.yaml")]
)  # fmt: skip
ODD = [
    "a: 2026-10-01\nb: [1, 2]\nc: {x: 1}\nd: !!str 3\ne: ~\nf: 1.5e3\ng: 0o17\n",
    "base: &b {x: 1, y: [2, 3]}\nuse: *b\nmerged:\n  <<: *b\n  z: 4\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\nquoted: 'it''s'\n",
    "a: 2026-13-01\n",  # an impossible date
    "a: [1, 2\nb: 3\n",  # an unclosed list
    "a: 1\na: 2\n",  # a duplicate key
    "a: b: c\n",  # bad syntax
    "- x\n- y\n",
    "",
    "x: \u0007\n",  # a control character
    "deep: " + "[" * 60 + "]" * 60 + "\n",
]


def both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    fast = yamlpos.load_yaml(text, "f.yaml")
    with monkeypatch.context() as m:
        m.setattr(yamlpos, "_FastLoader", None)
        plain = yamlpos.load_yaml(text, "f.yaml")

    def seen(result: tuple[yamlpos.YamlDocument | None, list[object]]) -> object:
        doc, problems = result
        return (None if doc is None else (doc.data, doc.lines), problems)

    return seen(fast), seen(plain)


def test_pyyaml_has_libyaml_here() -> None:
    assert yaml.__with_libyaml__ and yamlpos._FastLoader is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_shipped_files_parse_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, plain = both(path.read_text(encoding="utf-8"), monkeypatch)
    assert fast == plain


@pytest.mark.parametrize("text", ODD)
def test_odd_documents_parse_and_fail_the_same(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, plain = both(text, monkeypatch)
    assert fast == plain
