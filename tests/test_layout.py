"""The layers, one rule each, drawn from the imports in the code: tasks, baselines and rlmem see only the
contracts (``benchmark.api``); the contracts see nothing else of ``benchmark``; the harness never reaches up
into the studies, the reports or the CLI; the reports read records only."""

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "benchmark"
LAYERS = ("api", "harness", "studies", "reporting", "cli")
SHIMS = {  # the old module paths plugins and the 0.1 README used, kept for one release
    "interfaces": ["FitInfo", "Model", "NoOptions", "NullLog", "Task", "TaskDataError", "TaskMetadata", "TrainBudget",
                   "TrainingLog", "check_device", "check_options", "run_updates", "torch_device"],
    "episodes": ["Episode", "FeatureScaler", "Fold", "TaskData", "TaskSpec", "file_sha256", "pad_batch",
                 "select_modalities"],
    "selection": ["Selector", "verdict"],
    "padding": ["has_padding", "on_valid_steps"],
    "checkpoints": ["ReshuffledPasses", "TrainingState", "CellCheckpoint", "checkpoint_path"],
}


def imports(where: Path):
    """(file, module) for every import under ``where``, at any depth of the code."""
    for path in sorted(where.rglob("*.py")) if where.is_dir() else [where]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def broken(where: Path, allowed) -> list[str]:
    return [f"{path.relative_to(ROOT)} imports {module}" for path, module in imports(where)
            if within(module, "benchmark") and not allowed(module)]


def test_tasks_baselines_rlmem_import_only_the_api():
    for package in ("tasks", "baselines", "rlmem"):
        assert broken(ROOT / package, lambda m: within(m, "benchmark.api")) == []


def test_the_api_imports_nothing_else_of_benchmark():
    assert broken(BENCHMARK / "api", lambda m: within(m, "benchmark.api")) == []


def test_the_harness_never_imports_studies_reports_or_the_cli():
    assert broken(BENCHMARK / "harness", lambda m: not within(
        m, "benchmark.studies", "benchmark.reporting", "benchmark.cli")) == []


def test_the_reports_read_records_only():
    assert broken(BENCHMARK / "reporting", lambda m: within(
        m, "benchmark.api", "benchmark.reporting", "benchmark.harness.record")) == []


def test_the_studies_never_import_the_cli():
    assert broken(BENCHMARK / "studies", lambda m: not within(m, "benchmark.cli")) == []


def test_models_never_import_tasks():
    for package in ("baselines", "rlmem"):
        assert [f"{p.relative_to(ROOT)} imports {m}" for p, m in imports(ROOT / package) if within(m, "tasks")] == []


def test_benchmark_holds_its_layers_and_the_old_paths_only():
    top = {p.stem for p in BENCHMARK.glob("*.py")}
    assert top == {"__init__", *SHIMS}
    assert {p.name for p in BENCHMARK.iterdir() if p.is_dir() and p.name != "__pycache__"} == {*LAYERS, "data"}
    for layer in LAYERS:
        doc = ast.get_docstring(ast.parse((BENCHMARK / layer / "__init__.py").read_text()))
        assert doc, f"benchmark/{layer}/__init__.py says in a docstring what the layer holds"
    for shim in SHIMS:  # a shim re-exports, and holds no code of its own
        tree = ast.parse((BENCHMARK / f"{shim}.py").read_text())
        assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))], shim


def test_no_module_of_benchmark_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in BENCHMARK.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


@pytest.mark.parametrize("old", sorted(SHIMS))
def test_the_old_module_paths_still_import_with_a_deprecation_warning(old):
    sys.modules.pop(f"benchmark.{old}", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"benchmark.{old}")
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    import benchmark.api
    import benchmark.harness.checkpoints

    for name in SHIMS[old]:
        new = getattr(benchmark.api, name, None) or getattr(benchmark.api.padding if old == "padding" else
                                                            benchmark.harness.checkpoints, name)
        assert getattr(module, name) is new, (old, name)


def test_import_benchmark_and_its_api_stay_free_of_torch():
    code = "import sys, benchmark, benchmark.api, benchmark.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
