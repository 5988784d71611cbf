"""Data flows one way: gen -> render -> cluster -> recognition. No stage imports a later one."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ["gen", "render", "cluster", "recognition"]


def _imported_stages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(n.split(".")[0] for n in names if n.split(".")[0] in STAGES)
    return found


def test_no_stage_imports_a_later_stage():
    bad = []
    for rank, stage in enumerate(STAGES):
        for path in sorted((REPO / stage).rglob("*.py")):
            for other in _imported_stages(path):
                if STAGES.index(other) > rank:
                    bad.append(f"{path.relative_to(REPO)} imports {other}")
    assert not bad, "later-stage imports: " + ", ".join(bad)


def test_scanner_sees_imports(tmp_path):
    # Guard against a scanner that silently finds nothing.
    f = tmp_path / "m.py"
    f.write_text("import os\nfrom recognition.train import x\nimport render.align as a\n")
    assert _imported_stages(f) == {"recognition", "render"}


def test_cli_lists_every_stage_command():
    out = subprocess.run([sys.executable, "-m", "cluster.cli", "--help"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    assert "models" in out


def test_cli_error_is_one_line_and_exit_2():
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "models", "import", "no-such-model"],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown model 'no-such-model'" in lines[0] and "ict-facekit" in lines[0]
