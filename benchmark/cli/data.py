"""The commands about data: ``data download|info|verify`` a task's files, and ``score`` predictions made
outside rlbench with a task's protocol (rlbench never downloads at run time)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from benchmark.cli.common import clean_errors, console, default_data_root, load_plugins, split_names
from benchmark.cli.options import DATA, OUTPUT, DataRoot, Plugins, Sets, Tasks
from benchmark.cli.progress import progress

PANEL = "Data"
TaskName = Annotated[str, typer.Argument(help="task name")]

data_app = typer.Typer(help="Describe, check and fetch datasets (rlbench never downloads at run time).",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("score", rich_help_panel=PANEL)(clean_errors(score_cmd))
    app.add_typer(data_app, name="data", rich_help_panel=PANEL)
    for name, command in (("download", data_download_cmd), ("info", data_info_cmd), ("verify", data_verify_cmd)):
        data_app.command(name)(clean_errors(command))


def score_cmd(
    task: Tasks,
    predictions: Annotated[Path, typer.Option("--predictions", "-p", help="JSON: {sequence id: [per-step scores]}",
                                              rich_help_panel=DATA)],
    set_: Sets = [],
    data_root: DataRoot = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the scores as JSON", rich_help_panel=OUTPUT)] = False,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="score predictions that cover only some of the task's sequences",
        rich_help_panel=DATA)] = False,
    plugin: Plugins = [],
):
    """Score predictions made outside rlbench with every metric of a task's protocol (no split needed: every
    sequence with a prediction is scored)."""
    import json

    from benchmark.harness.plan import RunError
    from benchmark.harness.scoring import score_file

    load_plugins(plugin)
    names = split_names(task)
    if len(names) != 1:
        raise RunError(f"score predictions for one --task, got {', '.join(names) or 'none'}")
    task = names[0]
    scores, n, total = score_file(task, predictions, set_, data_root if data_root is not None else default_data_root(),
                                  allow_partial)
    if as_json:
        typer.echo(json.dumps({"task": task, "n_sequences": n, "n_task_sequences": total, "scores": scores},
                              indent=1, sort_keys=True))
        return
    table = Table(title=f"{task}: {n} of {total} sequences scored", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in scores.items():
        table.add_row(k, f"{v:.4f}")
    console.print(table)


def check_data(task_name: str, data_root: Optional[Path]):
    """Load a task's data and report what was found; returns (ok, summary lines, expected layout)."""
    import inspect

    from benchmark.api import TaskDataError
    from benchmark.harness.registry import task_class

    cls = task_class(task_name)
    root = data_root if data_root is not None else default_data_root()
    lines = [f"task: {task_name} (v{cls.metadata.version})", f"data: {cls.metadata.data}", f"data root: {root}"]
    layout = inspect.getdoc(inspect.getmodule(cls)) or ""
    try:
        data = cls(cls.Options(), root).load()
    except (TaskDataError, ValueError) as exc:
        return False, lines + ["status: NOT USABLE", f"problem: {exc}"], layout
    n_steps = sum(e.length for e in data.episodes.values())
    lines += [
        "status: OK",
        f"sequences: {len(data.episodes)}, steps: {n_steps}, folds: {len(data.folds)}",
        f"modalities: {', '.join(f'{m} ({d})' for m, d in data.spec.modalities)}; targets: {', '.join(data.spec.target_names)}",
        *[f"sha256 {name}: {digest}" for name, digest in data.data_sha256.items()],
        f"split sha256: {data.split_sha256}",
    ]
    if data.info:
        lines.append(f"notes: {data.info}")
    return True, lines, layout


def data_download_cmd(
    task: TaskName,
    url: Annotated[Optional[str], typer.Option("--url", help="an archive to fetch instead (zip or tar)",
                                               rich_help_panel=DATA)] = None,
    sha256: Annotated[Optional[str], typer.Option("--sha256", help="the archive's sha256, as its publisher gives it",
                                                  rich_help_panel=DATA)] = None,
    data_root: DataRoot = None,
):
    """Fetch a dataset from its recorded public source (every file sha256-checked; run again to resume),
    or an archive you name with --url/--sha256 (unpacked safely); then verify the task's data."""
    from urllib.parse import urlparse

    from benchmark.harness.download import download, fetch_source, load_sources, safe_extract
    from benchmark.harness.plan import RunError
    from benchmark.harness.registry import task_class

    cls = task_class(task)
    root = data_root if data_root is not None else default_data_root()
    source = load_sources().get(task)
    if url or sha256:
        if not (url and sha256):
            raise RunError("--url and --sha256 go together: the archive and its checksum from its publisher")
        name = Path(urlparse(url).path).name or f"{task}.archive"
        fetched = [download(url, root / "downloads" / name, sha256)]
        safe_extract(fetched[0], root)
    elif source is not None:
        console.print(f"{task}: {len(source.files)} file(s) from {source.origin}\nterms: {source.terms}", markup=False)
        with progress() as bars:
            bar = bars.add_task("downloading", total=sum(f.bytes for f in source.files))
            fetched = fetch_source(source, root, on_bytes=lambda n: bars.advance(bar, n))
    else:
        raise RunError(f"no public source with a checksum is recorded for {task!r}; it needs {cls.metadata.data}. "
                       f"Place the files by hand (rlbench data info {task}) or pass --url and --sha256 for an "
                       "archive you have a checksum for")
    ok, lines, _ = check_data(task, root)
    typer.echo("\n".join([f"fetched {len(fetched)} file(s) into {root}", *lines]))
    if source is not None and source.not_covered and not ok:
        typer.echo("still needed (no public source with a checksum): " + "; ".join(source.not_covered))
    if not ok:
        raise typer.Exit(1)


def data_info_cmd(task: TaskName, data_root: DataRoot = None, plugin: Plugins = []):
    """What a task needs, where it looks, and what it finds there."""
    load_plugins(plugin)
    _, lines, layout = check_data(task, data_root)
    typer.echo("\n".join([*lines, "", "expected layout:", layout]))


def data_verify_cmd(task: TaskName, data_root: DataRoot = None, plugin: Plugins = []):
    """Load and check every file of a task's local copy; exit status 1 if it is not usable."""
    load_plugins(plugin)
    ok, lines, _ = check_data(task, data_root)
    typer.echo("\n".join(lines))
    if not ok:
        raise typer.Exit(1)
