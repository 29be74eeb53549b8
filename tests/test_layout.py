"""The one-way import rules of the design: tasks, baselines and rlmem see only the shared contracts."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = {"benchmark.checkpoints", "benchmark.episodes", "benchmark.interfaces", "benchmark.padding", "benchmark.selection"}


def imports(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                yield path, node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name


def test_tasks_baselines_rlmem_import_only_the_shared_contracts():
    for package in ("tasks", "baselines", "rlmem"):
        for path, module in imports(package):
            if module.split(".")[0] == "benchmark":
                assert module in SHARED, f"{path.relative_to(ROOT)} imports {module}"


def test_models_never_import_tasks():
    for package in ("baselines", "rlmem"):
        for path, module in imports(package):
            assert module.split(".")[0] != "tasks", f"{path.relative_to(ROOT)} imports {module}"
