"""The commands that train: ``run``, ``sweep``, ``tune`` and ``ablate``, all through the one execution path
(``benchmark.harness.execution``) with the same execution options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, List

import typer
from rich.table import Table

from benchmark.cli.common import (clean_errors, console, exit_on_failures, load_plugins, make_execution, make_request,
                                  split_names, summary)
from benchmark.cli.options import (RUNS, WHAT, Address, CheckpointEvery, DataRoot, Device, Executor, Folds, Models,
                                   Out, Plugins, Presets, Results, Resume, Seeds, Sets, Tasks, Threads, Trace, Tuned,
                                   Workers)
from benchmark.cli.progress import progress, reporter

PANEL = "Run"


def register(app: typer.Typer) -> None:
    for name, command in (("run", run_cmd), ("sweep", sweep_cmd), ("tune", tune_cmd), ("ablate", ablate_cmd)):
        app.command(name, rich_help_panel=PANEL)(clean_errors(command))


def run_cmd(task: Tasks, model: Models, seeds: Seeds = "0", folds: Folds = "all", set_: Sets = [],
            tuned: Tuned = False, presets: Presets = None, plugin: Plugins = [], data_root: DataRoot = None,
            executor: Executor = None, workers: Workers = None, address: Address = None, threads: Threads = None,
            device: Device = None, checkpoint_every: CheckpointEvery = None, results: Results = RUNS,
            resume: Resume = True, trace: Trace = False):
    """Train and score models on tasks; one record per (task, model, seed, fold). Cells run one after another
    in this process unless --executor, --workers or --address says otherwise."""
    _train([], task, model, seeds, folds, set_, tuned, presets, plugin, data_root, executor, workers, address,
           threads, device, checkpoint_every, results, resume, trace, default_executor="inline")


def sweep_cmd(task: Tasks, model: Models, seeds: Seeds = "0", folds: Folds = "all", set_: Sets = [],
              grid: Annotated[List[str], typer.Option(
                  "--grid", help="key=v1,v2,...: one set of cells per value (grids multiply)", rich_help_panel=WHAT)] = [],
              tuned: Tuned = False, presets: Presets = None, plugin: Plugins = [], data_root: DataRoot = None,
              executor: Executor = None, workers: Workers = None, address: Address = None, threads: Threads = None,
              device: Device = None, checkpoint_every: CheckpointEvery = None, results: Results = RUNS,
              resume: Resume = True, trace: Trace = False):
    """Run a grid of cells in parallel (a local process pool or Ray); records are written by this process."""
    _train(grid, task, model, seeds, folds, set_, tuned, presets, plugin, data_root, executor, workers, address,
           threads, device, checkpoint_every, results, resume, trace, default_executor="local")


def _train(grid, task, model, seeds, folds, sets, tuned, presets, plugins, data_root, executor, workers, address,
           threads, device, checkpoint_every, results, resume, trace, default_executor):
    from benchmark.harness.execution import execute, grid_requests

    load_plugins(plugins)
    execution = make_execution(executor=executor, workers=workers, address=address, threads=threads,
                               plugins=plugins, default=default_executor)
    request = make_request(tasks=task, models=model, seeds=seeds, folds=folds, sets=sets, data_root=data_root,
                           results=results, resume=resume, trace=trace, tuned=tuned, presets=presets, device=device,
                           checkpoint_every=checkpoint_every)
    with progress() as bars:
        outcomes = execute(grid_requests(request, grid), execution, reporter(bars))
    summary(outcomes, results)


def tune_cmd(task: Tasks, model: Models,
             trials: Annotated[int, typer.Option("--trials", help="random-search trials per model",
                                                 rich_help_panel=WHAT)] = 8,
             sampler_seed: Annotated[int, typer.Option("--sampler-seed", help="seed of the parameter draw",
                                                       rich_help_panel=WHAT)] = 0,
             seeds: Seeds = "0", folds: Folds = "0", set_: Sets = [], plugin: Plugins = [],
             data_root: DataRoot = None, executor: Executor = None, workers: Workers = None,
             address: Address = None, threads: Threads = None, device: Device = None,
             checkpoint_every: CheckpointEvery = None, results: Results = RUNS, resume: Resume = True):
    """Random search over each model's declared space, scored on validation only (the test split is never
    scored), the same number of trials for every model; a trial's score is its mean over --seeds and --folds
    (fold 0 keeps it cheap). The best becomes a preset, RESULTS/TASK/tuned/MODEL.json, which --tuned
    applies; trial records go to RESULTS/tuning."""
    from benchmark.studies.tuning import tune

    load_plugins(plugin)
    execution = make_execution(executor=executor, workers=workers, address=address, threads=threads,
                               plugins=plugin)
    request = make_request(tasks=task, models=model, seeds=seeds, folds=folds, sets=set_, data_root=data_root,
                           results=results, resume=resume, device=device, checkpoint_every=checkpoint_every)
    with progress() as bars:
        written = tune(request, trials, sampler_seed, execution, reporter(bars))
    table = Table(title=f"tuned: {trials} trials per model, on validation", title_justify="left")
    for col in ("task", "model", "best val", "trials done", "best parameters"):
        table.add_column(col, overflow="fold")
    for path in written:
        preset = json.loads(path.read_text())
        done = sum(t["val_score"] is not None for t in preset["trials"])
        params = ", ".join(f"{k}={v}" for k, v in preset["best"]["params"].items())
        table.add_row(preset["task"], preset["model"], f"{preset['best']['val_score']:.4f}",
                      f"{done}/{preset['n_trials']}", params)
    console.print(table)
    console.print("presets: " + ", ".join(str(p) for p in written), markup=False, soft_wrap=True)
    console.print(f"use them: rlbench run --task {','.join(request.tasks)} --model {','.join(request.models)} "
                  f"--tuned --results {results}", markup=False, soft_wrap=True)


def ablate_cmd(kind: Annotated[str, typer.Argument(help="memory-size, update-rule, modality or rl-design")],
               task: Tasks,
               model: Models = [],
               values: Annotated[str, typer.Option(
                   "--values", help="the variants instead of the catalogue's, e.g. 5,10 (sizes), rlmem,lstm (rules), "
                                    "retain,TD3 (rl-design: labels containing these)", rich_help_panel=WHAT)] = "",
               seeds: Seeds = "0", folds: Folds = "all", set_: Sets = [], tuned: Tuned = False,
               presets: Presets = None, plugin: Plugins = [], data_root: DataRoot = None,
               from_records: Annotated[bool, typer.Option(
                   "--from-records", help="train nothing: take each cell's newest finished record in its variant's "
                                          "folder, whatever its config hash, and draw the report from them",
                   rich_help_panel=WHAT)] = False,
               executor: Executor = None, workers: Workers = None, address: Address = None, threads: Threads = None,
               device: Device = None, checkpoint_every: CheckpointEvery = None, results: Results = RUNS,
               resume: Resume = True, out: Out = None):
    """Run an ablation as a sweep and write its report (Markdown, CSV, LaTeX), the variants' validation curves
    (PNG, PDF) and its manifest (the records it is drawn from, which `rlbench paper` draws it again from).
    --model names the model whose memory size or modalities vary [rlmem]."""
    from benchmark.harness.config import ConfigError
    from benchmark.reporting.ablation_report import write_ablation
    from benchmark.studies.ablation import Ablation, manifest_from_records, run_ablation

    load_plugins(plugin)
    models = split_names(model)
    if len(models) > 1:
        raise ConfigError(f"ablate varies one model's setting: give one --model, got {', '.join(models)}")
    execution = make_execution(executor=executor, workers=workers, address=address, threads=threads,
                               plugins=plugin)
    request = make_request(tasks=task, models=["-"], seeds=seeds, folds=folds, sets=set_, data_root=data_root,
                           results=results, resume=resume, device=device, checkpoint_every=checkpoint_every)
    ablation = Ablation(kind, request, models[0] if models else None,
                        tuple(v.strip() for v in values.split(",") if v.strip()), (presets or results) if tuned else None)
    outcomes = []
    if from_records:
        manifest = manifest_from_records(ablation)
    else:
        with progress() as bars:
            manifest, outcomes = run_ablation(ablation, execution, reporter(bars))
    text, written = write_ablation(manifest, results, out or Path(results) / "ablations")
    typer.echo(text)
    typer.echo("wrote " + ", ".join(str(p) for p in written))
    exit_on_failures(outcomes)
