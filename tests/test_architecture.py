"""The architecture of docs/architecture.md, checked: layers that only point down, pages that read
through the views, a demo estate that imports nothing of the product, small modules, and a
repository that cites nothing outside itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("foundation", "store", "collectors", "metrics", "throughline")
MAX_LINES = 400


def _imports(path: Path) -> set[str]:
    """Absolute module names `path` imports (at any depth of its code)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _product(names: set[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in PRODUCT}


def _code_files() -> list[Path]:
    """Every Python module of the product and its tools, tests and migrations aside."""
    return [
        p
        for p in ROOT.rglob("*.py")
        if not {"tests", "migrations", ".venv", "build"} & set(p.relative_to(ROOT).parts)
    ]


def test_import_contracts_hold() -> None:
    """pyproject.toml's import-linter contracts: nothing imports upward."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "broken" in done.stdout and "0 broken" in done.stdout


def test_pages_import_only_views_and_the_dashboard_shell() -> None:
    allowed = ("metrics.views", "throughline.ui")
    for page in [*sorted((ROOT / "pages").glob("*.py")), ROOT / "app.py"]:
        wrong = {
            name
            for name in _product(_imports(page))
            if not name.startswith(allowed) and name not in ("throughline",)
        }
        assert not wrong, f"{page.name} imports {sorted(wrong)} (pages read through metrics.views)"


def test_demo_estate_imports_nothing_of_the_product() -> None:
    for module in sorted((ROOT / "collectors" / "demo_estate").rglob("*.py")):
        outside = {
            n for n in _product(_imports(module)) if not n.startswith("collectors.demo_estate")
        }
        assert not outside, f"{module.relative_to(ROOT)} imports {sorted(outside)}"


def test_collectors_write_through_the_store_only() -> None:
    for module in sorted((ROOT / "collectors").rglob("*.py")):
        above = {n for n in _imports(module) if n.split(".")[0] in ("metrics", "throughline")}
        assert not above, f"{module.relative_to(ROOT)} imports {sorted(above)}"


def test_modules_stay_under_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _code_files()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split by concern: {long}"


def test_the_repository_cites_nothing_outside_itself() -> None:
    cites = ("DESIGN §", "../shared", "DESIGN.md")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    texts = [ROOT / name for name in listed if name and ROOT / name != Path(__file__)]
    found = [
        f"{p.relative_to(ROOT)}: {cite}"
        for p in texts
        if p.is_file()
        for cite in cites
        if cite in p.read_bytes().decode("utf-8", "replace")
    ]
    assert not found, found
