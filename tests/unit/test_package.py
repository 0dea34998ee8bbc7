"""The package's shape: a pure library with no Streamlit, no import circle, layers that
only look down (data ← engine ← services), pages that are only pages, and an install
that works from a fresh virtual environment."""

from __future__ import annotations

import ast
import os
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"tuning.data": 0, "tuning.engine": 1, "tuning.services": 2}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules a file imports at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _library_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in (ROOT / "tuning").rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_the_library_never_imports_streamlit():
    offenders = []
    for path in (ROOT / "tuning").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_import_circle_in_the_library():
    graph = _library_graph()
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend([*trail, node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*trail, node]):
                return True
        state[node] = 2
        return False

    for module in sorted(graph):
        if state.get(module) is None and visit(module, []):
            break
    assert cycle == []


def test_layers_only_import_downwards():
    upward = []
    for module, imported in _library_graph().items():
        level = next((lvl for prefix, lvl in LAYERS.items() if module.startswith(prefix + ".")), None)
        if level is None:
            continue
        for target in imported:
            target_level = next((lvl for prefix, lvl in LAYERS.items() if target.startswith(prefix + ".")), None)
            if target_level is not None and target_level > level:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_pages_holds_only_the_pages_the_app_navigates_to():
    app = (ROOT / "app.py").read_text(encoding="utf-8")
    for page in (ROOT / "pages").glob("*.py"):
        assert f'"pages/{page.name}"' in app, f"pages/{page.name} is not a page of app.py's navigation"


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_gives_the_library_and_the_command(tmp_path):
    """`pip install .` installs `tuning` (and only it) with a `tuning` command; the test
    reuses this interpreter's packages (no download) but nothing of the checkout."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True)  # pip and setuptools: this interpreter's
    python = env_dir / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(ROOT)],
                   check=True, cwd=tmp_path, env=clean, capture_output=True, timeout=300)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code = ("import tuning, pathlib; print(tuning.__version__); "
            f"print(pathlib.Path(tuning.__file__).resolve().is_relative_to(pathlib.Path(r'{ROOT}')))")
    shown = subprocess.run([python, "-c", code], cwd=outside, env=clean, capture_output=True, text=True, check=True)
    version, inside_checkout = shown.stdout.split()
    assert version == __import__("tuning").__version__ and inside_checkout == "False"
    top_level = subprocess.run([python, "-c", "import importlib.util as u; print([n for n in "
                                "('pages', 'dashboard', 'tests', 'bench') if u.find_spec(n)])"],
                               cwd=outside, env=clean, capture_output=True, text=True, check=True)
    assert top_level.stdout.strip() == "[]"
    helped = subprocess.run([env_dir / "bin" / "tuning", "--help"], cwd=outside, env=clean,
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: tuning ") and "run" in helped.stdout


def test_the_public_api_sits_at_the_top_and_imports_on_first_use():
    # a fresh interpreter: `import tuning` alone loads no scikit-learn (the command starts its
    # workers before that), and every public name then resolves to the object its module defines
    code = ("import sys, importlib, tuning; heavy = sorted(m for m in ('sklearn', 'plotly', 'sqlite3', 'pandas') "
            "if m in sys.modules); missing = [n for n in tuning.__all__ if n not in dir(tuning)]; "
            "wrong = [n for n in tuning.__all__ if n != '__version__' and getattr(tuning, n) is not "
            "getattr(importlib.import_module(tuning._PUBLIC[n]), n)]; print(heavy, missing, wrong)")
    proc = subprocess.run([os.sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "[]", "[]"]
    import tuning

    assert set(tuning._PUBLIC) == set(tuning.__all__) - {"__version__"}
    with pytest.raises(AttributeError, match="no attribute 'not_public'"):
        tuning.not_public  # noqa: B018


def test_the_command_line_imports_the_engine_only_for_the_command_that_runs():
    code = "import sys, tuning.cli; print('sklearn' in sys.modules)"
    proc = subprocess.run([os.sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr
