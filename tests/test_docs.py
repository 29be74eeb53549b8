"""The docs run as written: the blocks of README.md and docs/ that make something run here, every `rlbench`
command line they show names real commands and options, and the README stays the door it says it is."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.harness.registry import _REGISTRIES

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", page.read_text(), re.S)


def python_block(page: str, marker: str) -> str:
    for block in blocks(ROOT / page, "python"):
        if marker in block:
            return block
    raise AssertionError(f"no python block with {marker!r} in {page}")


def run_cli(args: list[str]):
    try:
        return CliRunner().invoke(app, args)
    finally:
        _REGISTRIES.clear()  # a plugin registers its names for this process only


def command_lines() -> list[tuple[str, list[str]]]:
    """Every `rlbench ...` command of a bash block in README.md and docs/, comments and `&&` chains split."""
    found = []
    for page in PAGES:
        for block in blocks(page, "bash"):
            for line in block.splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                for part in line.split("&&"):
                    words = shlex.split(part)
                    if words[:1] == ["rlbench"]:
                        found.append((page.name, words[1:]))
    return found


def test_the_docs_show_rlbench_commands():
    pages = {page for page, _ in command_lines()}
    assert {"README.md", "cli.md", "tasks.md", "adding-a-task.md"} <= pages
    assert len(command_lines()) >= 20


@pytest.mark.parametrize("page, args", command_lines(), ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_every_command_line_in_the_docs_names_real_commands_and_options(page, args):
    """Click parses every option before it acts on --help, so an unknown command or option fails here."""
    r = CliRunner().invoke(app, [*args, "--help"])
    assert r.exit_code == 0, f"{page}: rlbench {' '.join(args)}\n{r.output}"


def test_readme_is_the_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for heading in ("## Set-up", "## Quick start", "## Tasks", "## Models", "## Headline findings",
                    "## Where things are", "## Citing"):
        assert heading in readme
    for link in re.findall(r"\]\(((?:docs|results)/[^)#]+)", readme):
        assert (ROOT / link).exists(), f"README.md links {link}, which is not there"


def test_docs_and_findings_link_only_to_what_exists():
    for page in [*PAGES, *sorted((ROOT / "results" / "findings").glob("*.md"))]:
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / link).resolve().exists(), f"{page.relative_to(ROOT)} links {link}, which is not there"
        for path in re.findall(r"`((?:benchmark|tasks|baselines|rlmem|scripts|tests)/[\w./-]+\.(?:py|json))`",
                               page.read_text()):
            assert (ROOT / path).exists(), f"{page.relative_to(ROOT)} names {path}, which is not there"


def test_where_things_are_lists_the_tree():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Where things are", 1)[1]
    listed = {line.split()[0].rstrip("/") for line in section.split("```")[1].strip().splitlines()}
    for path in listed:
        assert (ROOT / path).is_dir(), f"README lists {path}/, which is not there"
    layers = {f"benchmark/{p.parent.name}" for p in (ROOT / "benchmark").glob("*/__init__.py")} | {"benchmark/data"}
    assert layers <= listed, f"README's map misses {sorted(layers - listed)}"
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    top = {p.split("/")[0] for p in tracked.splitlines() if "/" in p and not p.startswith(".")}
    covered = {path.split("/")[0] for path in listed}
    assert top <= covered, f"README's map misses {sorted(top - covered)}"


@pytest.mark.slow
def test_gru_plugin_runs_as_written(tmp_path):
    plugin = tmp_path / "my_gru.py"
    plugin.write_text(python_block("docs/adding-a-model.md", "# my_gru.py"))
    r = run_cli(["run", "--plugin", str(plugin), "--task", "synth-affect", "--model", "gru",
                 "--results", str(tmp_path / "res"), "--set", "n_sequences=12",
                 "--set", "length=40", "--set", "lag=5", "--set", "epochs=2"])
    assert r.exit_code == 0, r.output
    assert "completed" in r.output


@pytest.mark.slow
def test_gru_plugin_as_installed_entry_point(tmp_path):
    """An installed distribution (a dist-info with entry_points.txt on sys.path, exactly what pip
    leaves behind) is discovered through the rlbench.models group without --plugin."""
    (tmp_path / "my_gru.py").write_text(python_block("docs/adding-a-model.md", "# my_gru.py"))
    toml = blocks(ROOT / "docs" / "adding-a-model.md", "toml")[0]
    group, entry = re.search(r'\[project\.entry-points\."([^"]+)"\]\n(.+)', toml).groups()
    dist = tmp_path / "my_gru-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-gru\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{entry.replace(chr(34), '')}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    listing = subprocess.run([sys.executable, "-m", "benchmark.cli", "models"], env=env, capture_output=True,
                             text=True, check=True)
    assert "gru" in listing.stdout and "plugin my-gru" in listing.stdout
    run = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--task", "synth-affect", "--model", "gru",
                          "--results", str(tmp_path / "res"), "--set", "n_sequences=12", "--set", "length=40",
                          "--set", "lag=5", "--set", "epochs=2"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "completed" in run.stdout


def test_hdf5_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(python_block("docs/tasks.md", 'h5py.File("my.h5", "w")'), {})
    shown = [args for page, args in command_lines() if page == "tasks.md" and "generic" in args]
    assert shown == [["run", "--task", "generic", "--data-root", "my.h5", "--model", "lstm,mlp,mean"]]
    r = run_cli(["run", "--task", "generic", "--data-root", "my.h5", "--model", "mean", "--results", "res"])
    assert r.exit_code == 0, r.output
    assert r.output.count(": completed") == 5  # 5 default folds, one plain line each (no terminal here)


@pytest.mark.slow
def test_the_task_of_adding_a_task_runs_and_is_learnt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "echo_task.py").write_text(python_block("docs/adding-a-task.md", "# echo_task.py"))
    r = run_cli(["run", "--plugin", "echo_task.py", "--task", "echo", "--model", "mean,lstm", "--results", "res"])
    assert r.exit_code == 0, r.output
    from benchmark.harness.record import iter_records

    scores = {rec.model.name: rec.main_score for _, rec in iter_records(tmp_path / "res")}
    assert scores["lstm"] < 0.1 * scores["mean"], scores  # a memory of `lag` steps is what the task asks
    verify = run_cli(["data", "verify", "echo", "--plugin", "echo_task.py"])
    assert verify.exit_code == 0 and "status: OK" in verify.output, verify.output
    unknown = run_cli(["run", "--plugin", "echo_task.py", "--task", "echo", "--model", "mean", "--set", "lagg=3",
                       "--results", "res"])
    assert unknown.exit_code == 2 and "lag" in unknown.output


def test_reading_records_runs_as_written(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(python_block("docs/records.md", "Record.load("), {})
    out = capsys.readouterr().out
    assert out.startswith("synth-affect lstm (tuned) 0 ") and "converged" in out


@pytest.mark.parametrize("index", ["docs/README.md", "results/findings/README.md"])
def test_each_index_lists_every_page_beside_it(index):
    text = (ROOT / index).read_text()
    pages = {p.name for p in (ROOT / index).parent.glob("*.md")} - {"README.md"}
    linked = set(re.findall(r"\]\(([\w.-]+\.md)\)", text))
    assert pages <= linked, f"{index} does not list {sorted(pages - linked)}"
