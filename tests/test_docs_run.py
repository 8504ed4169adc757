"""Docs are executable: every code block of README.md and docs/*.md runs.

Conventions (one rule per fence language):

- ``json``: parses as strict JSON; a block with ``"models"`` loads as an interaction graph,
  and becomes ``graph.json`` for the blocks after it in the same file.
- ``python``: executed, in order, in one namespace per file.
- no language, ``console``, ``sh``: every command line runs (``$ `` prompts are
  stripped, ``&&`` chains split, ``#`` comments dropped); ``pip install`` and ``pytest``
  commands are what ``.ci/run`` itself does and are not repeated. When the block shows
  output after a ``$`` command, every shown line other than ``...`` appears in the real output.
- ``text``, ``latex``: shown, not run (LaTeX is compiled by the LaTeX tests).

Each file runs in a scratch directory holding a copy of ``docs/examples/`` (so paths such
as ``docs/examples/ring.json`` resolve) and the newest graph block as ``graph.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([A-Za-z]*)\s*\n(.*?)^```\s*$", re.S | re.M)
RUN_LANGS = {"", "console", "sh", "bash", "shell"}
SHOWN_LANGS = {"text", "latex", "tex"}


def _blocks(path: Path) -> list[tuple[str, str, int]]:
    text = path.read_text()
    return [(m.group(1).lower(), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def _commands(body: str) -> list[tuple[list[str], list[str]]]:
    """(argv, expected output lines) per command of a shell block."""
    out: list[tuple[list[str], list[str]]] = []
    lines = body.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if prompted and not line.startswith("$ "):
            continue
        cmd = line[2:] if line.startswith("$ ") else line
        while cmd.endswith("\\") and i < len(lines):
            cmd = cmd[:-1] + " " + lines[i].strip()
            i += 1
        expected: list[str] = []
        if prompted:
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
        for part in cmd.split("&&"):
            argv = shlex.split(part, comments=True)
            if argv:
                out.append((argv, expected))
    return out


def _run_cli(argv: list[str]) -> tuple[int, str]:
    from graphcollapse.verify.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse rejects the command line
            status = exc.code
    return status, buf.getvalue()


def _cases():
    for path in DOCS:
        blocks = _blocks(path)
        if blocks:
            yield pytest.param(path, blocks, id=str(path.relative_to(ROOT)))


@pytest.mark.parametrize(("path", "blocks"), list(_cases()))
def test_code_blocks_run(path, blocks, tmp_path, monkeypatch):
    from graphcollapse.theory import load_graph

    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for lang, body, line in blocks:
        where = f"{path.name}:{line}"
        if lang in SHOWN_LANGS:
            continue
        if lang == "json":
            data = json.loads(body)
            if isinstance(data, dict) and "models" in data:
                load_graph(data)
                (tmp_path / "graph.json").write_text(body)
            continue
        if lang == "python":
            exec(compile(body, where, "exec"), namespace)  # noqa: S102 - our own docs
            continue
        assert lang in RUN_LANGS, f"{where}: unknown code block language {lang!r}; use one of the documented ones"
        for argv, expected in _commands(body):
            if argv[0] == "pip" or "pytest" in argv:
                continue
            assert argv[0] == "graphcollapse", f"{where}: only graphcollapse commands run in docs, found {argv[0]!r}"
            status, output = _run_cli(argv[1:])
            assert status == 0, f"{where}: `{' '.join(argv)}` exited {status}:\n{output}"
            got = {s.strip() for s in output.splitlines()}
            for want in expected:
                if want.strip() and want.strip() != "...":
                    assert want.strip() in got, f"{where}: `{' '.join(argv)}` did not print {want.strip()!r}:\n{output}"


def test_every_fence_language_is_known():
    """A typo in a fence language would silently skip a block."""
    for path in DOCS:
        for lang, _, line in _blocks(path):
            assert lang in RUN_LANGS | SHOWN_LANGS | {"json", "python"}, f"{path.name}:{line}: {lang!r}"


LINK = re.compile(r"\]\(([A-Za-z0-9_./-]+\.[A-Za-z]+)(?:#[^)]*)?\)")
PATH = re.compile(r"`((?:docs|theory|verify|benchmarks|tests|src)/[A-Za-z0-9_./-]+)`")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_point_only_to_files_that_ship(path):
    """Every relative link and every quoted repository path names a file that exists."""
    text = path.read_text()
    for target in LINK.findall(text):
        assert (path.parent / target).exists() or (ROOT / target).exists(), f"{path.name}: broken link {target}"
    for target in PATH.findall(text):
        if "*" in target or target.endswith("/"):
            continue
        assert (ROOT / target).exists(), f"{path.name}: no file {target}"
