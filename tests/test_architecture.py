"""The house rules: data flows one way (core <- gen <- render <- cluster <- recognition), no module
imports itself back through others, and no module grows past 400 lines."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["core", "gen", "render", "cluster", "recognition"]  # each may import only those before it
CLI_ROOT = REPO / "cluster" / "cli.py"  # registers every stage's commands by module name
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for layer in LAYERS:
        for path in sorted((REPO / layer).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path, package: str, modules: frozenset[str] = frozenset()) -> set[str]:
    """Every project module named by an import anywhere in `path` (lazy imports included).
    `from pkg import name` names the submodule pkg.name when it is one of `modules`, else pkg."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {n for n in found if n.split(".")[0] in LAYERS}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {m for m in _imports(path, pkg, frozenset(mods)) if m in mods and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_layer_imports_a_later_one():
    bad = []
    for name, path in _modules().items():
        if path == CLI_ROOT:
            continue
        rank = LAYERS.index(name.split(".")[0])
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for other in {m.split(".")[0] for m in _imports(path, pkg)}:
            if LAYERS.index(other) > rank:
                bad.append(f"{path.relative_to(REPO)} imports {other}")
    assert not bad, "later-layer imports: " + ", ".join(sorted(bad))


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle():
    # Guard against a checker that silently finds nothing.
    g = {"gen.a": {"gen.b"}, "gen.b": {"gen.c"}, "gen.c": {"gen.a"}, "gen.d": {"gen.a"}}
    assert _cycles(g) == [["gen.a", "gen.b", "gen.c"]]


def test_scanner_sees_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\nfrom recognition.train import x\nimport render.align as a\n"
                 "def f():\n    from . import sibling\n")
    assert _imports(f, "gen", frozenset({"gen.sibling"})) == {"recognition.train", "render.align", "gen.sibling"}


def test_modules_stay_small():
    big = {str(p.relative_to(REPO)): n for p in _modules().values()
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them by concept): {big}"


def test_cli_lists_every_stage_command():
    out = subprocess.run([sys.executable, "-m", "cluster.cli", "--help"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    for command in ("models", "preview", "generate", "inspect", "train", "eval"):
        assert command in out


def test_cli_works_from_an_uninstalled_checkout(tmp_path):
    """Commands come from a fixed module list, not installed entry points: a copy of the sources
    that pip never saw still lists them (as a Ray job's working_dir does)."""
    import shutil
    for layer in LAYERS:
        shutil.copytree(REPO / layer, tmp_path / layer, ignore=shutil.ignore_patterns("__pycache__"))
    # -S skips site-packages' .pth files, so the editable install cannot supply the package.
    env_paths = [p for p in sys.path if p.endswith("site-packages")]
    code = ("import sys; sys.path[:0] = [%r] + %r; import cluster.cli as c; "
            "assert c.__file__.startswith(%r); c.main(['--help'])") % (str(tmp_path), env_paths, str(tmp_path))
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "generate" in out.stdout and "train" in out.stdout


def test_cli_error_is_one_line_and_exit_2():
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "models", "import", "no-such-model"],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown model 'no-such-model'" in lines[0] and "ict-facekit" in lines[0]
