"""Every option the commands share, declared once with one help text (typer's ``Annotated`` aliases), in the
``--help`` panel it belongs to. A command takes an alias with its own default where defaults differ
(``--folds``: every fold to run, fold 0 to tune)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

WHAT, DATA, EXECUTION, OUTPUT = "What to run", "Data", "Execution", "Output"

Tasks = Annotated[List[str], typer.Option(
    "--task", "-t", help="task name(s); repeat or comma-separate", rich_help_panel=WHAT)]
Models = Annotated[List[str], typer.Option(
    "--model", "-m", help="model name(s); repeat or comma-separate", rich_help_panel=WHAT)]
Seeds = Annotated[str, typer.Option(
    "--seeds", help="seeds, e.g. 0,1,2 or a range 0..4 (mixed: 0..2,7)", rich_help_panel=WHAT)]
Folds = Annotated[str, typer.Option(
    "--folds", help="'all' or fold indices, e.g. 0,1", rich_help_panel=WHAT)]
Sets = Annotated[List[str], typer.Option(
    "--set", help="key=value for an option of the training budget, the task or the model, applied to every cell "
                  "(task., model. or train. in front disambiguates; `score` takes task options only)",
    rich_help_panel=WHAT)]
Tuned = Annotated[bool, typer.Option(
    "--tuned", help="start each trained model from its preset made by `rlbench tune` (--set still wins)",
    rich_help_panel=WHAT)]
Presets = Annotated[Optional[Path], typer.Option(
    "--presets", help="results folder holding TASK/tuned/MODEL.json [--results]", rich_help_panel=WHAT)]
Plugins = Annotated[List[str], typer.Option(
    "--plugin", help="module or .py file defining RLBENCH_MODELS / RLBENCH_TASKS, loaded first",
    rich_help_panel=WHAT)]

DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", help="dataset folder or file [env RLBENCH_DATA, else ~/.cache/rlbench]", rich_help_panel=DATA)]

Executor = Annotated[Optional[str], typer.Option(
    "--executor", help="where cells run: inline (this process, one after another), local (a process pool) or ray "
                       "[run: inline, else local]", rich_help_panel=EXECUTION)]
Workers = Annotated[Optional[int], typer.Option(
    "--workers", help="cells in parallel [local: the machine's cores]; without --executor, implies local",
    rich_help_panel=EXECUTION)]
Address = Annotated[Optional[str], typer.Option(
    "--address", help="address of a Ray cluster [a local one is started]; implies --executor ray",
    rich_help_panel=EXECUTION)]
Threads = Annotated[Optional[int], typer.Option(
    "--threads", help="torch threads of each worker [1: several torch processes with several threads each thrash "
                      "a small machine; inline: this process's, every core]", rich_help_panel=EXECUTION)]
Device = Annotated[Optional[str], typer.Option(
    "--device", help="cpu, cuda[:N] or auto (CUDA when a GPU is visible) for every torch model [auto]",
    rich_help_panel=EXECUTION)]
CheckpointEvery = Annotated[Optional[float], typer.Option(
    "--checkpoint-every", help="minutes between a cell's checkpoints, saved beside its record so that an "
                               "interrupted cell goes on from there (0: none) [10]", rich_help_panel=EXECUTION)]

Results = Annotated[Path, typer.Option(
    "--results", help="folder of records: run, sweep, tune and ablate write there, table and paper read it "
                      "(results/ holds the committed ones)", rich_help_panel=OUTPUT)]
Resume = Annotated[bool, typer.Option(
    "--resume/--overwrite", help="skip cells that have a finished record with the same config and data "
                                 "(--overwrite: run them again)", rich_help_panel=OUTPUT)]
Trace = Annotated[bool, typer.Option(
    "--trace", help="keep the first test sequence's predictions in each record (figures)", rich_help_panel=OUTPUT)]
ConvergedOnly = Annotated[bool, typer.Option(
    "--converged-only", help="leave out cells still improving when training ended (↗)", rich_help_panel=OUTPUT)]
Against = Annotated[Optional[str], typer.Option(
    "--against", help="row the others are compared with, paired over their (seed, fold) cells: a row's label or "
                      "a model name (its best row) [the best trained row of each table]", rich_help_panel=OUTPUT)]
Out = Annotated[Optional[Path], typer.Option(
    "--out", help="where to write instead: table, a file [printed]; paper, a folder [RESULTS/paper]; ablate, a "
                  "folder [RESULTS/ablations]", rich_help_panel=OUTPUT)]

RUNS = Path("runs")  # where records go unless --results says otherwise: results/ is for committed ones
