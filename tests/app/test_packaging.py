"""The server installs and runs without the tools' heavy dependencies (issue 11).

``pip install sprechzimmer`` must not pull aiortc (and with it PyAV and FFmpeg):
only the headless peer needs them, and it is a tool apart
(``sprechzimmer[peer]``). The server's modules never import ``sprechzimmer.tools``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "src/sprechzimmer"
HEAVY = ("aiortc", "av", "aioice")


def test_the_server_install_has_no_aiortc_and_the_extra_has() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [d.split("[")[0].split(">")[0].split("=")[0].strip() for d in project["dependencies"]]
    assert not set(names) & set(HEAVY), names
    extras = project["optional-dependencies"]
    assert any(d.startswith("aiortc") for d in extras["peer"])
    assert "sprechzimmer[peer]" in extras["test"]


def _module_imports(path: Path) -> set[str]:
    """What a module imports when it is loaded (not inside functions)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            joint = "" if base.endswith(".") else "."
            found |= {base} | {f"{base}{joint}{alias.name}" for alias in node.names}
    return found


def test_no_server_module_imports_the_tools_or_aiortc() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for name in _module_imports(path):
            top = name.lstrip(".").split(".")[0]
            assert top not in HEAVY, f"{path.name} imports {name}"
            assert not name.lstrip(".").startswith("tools"), f"{path.name} imports {name}"


BLOCKED_RUN = """
import importlib.abc, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {heavy!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Blocked())

from sprechzimmer.app import create_app
from sprechzimmer.cli import main
from sprechzimmer.config import load_settings
app = create_app(load_settings(data_dir={data!r}, secret_key="k" * 40))
assert app is not None
assert main(["peer", "http://127.0.0.1/call"]) == 2
print("loaded:", sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r}))
"""


def test_the_server_starts_and_the_peer_says_what_it_needs_without_aiortc(
    tmp_path: Path,
) -> None:
    script = BLOCKED_RUN.format(heavy=set(HEAVY), data=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded: []" in done.stdout
    assert "pip install 'sprechzimmer[peer]'" in done.stderr
