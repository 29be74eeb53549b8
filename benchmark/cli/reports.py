"""The commands that read records only: ``table`` and ``paper``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from benchmark.harness.record import write_atomic
from benchmark.cli.common import clean_errors, console, folder_of_records, split_names
from benchmark.cli.options import OUTPUT, RUNS, Against, ConvergedOnly, Out, Results, Tasks

PANEL = "Reports"


def register(app: typer.Typer) -> None:
    app.command("paper", rich_help_panel=PANEL)(clean_errors(paper_cmd))
    app.command("table", rich_help_panel=PANEL)(clean_errors(table_cmd))


def paper_cmd(results: Results = RUNS, out: Out = None, converged_only: ConvergedOnly = False,
              against: Against = None,
              html: Annotated[bool, typer.Option("--html", help="also write the static HTML leaderboard, "
                                                 "OUT/../site [RESULTS/site]", rich_help_panel=OUTPUT)] = False):
    """Regenerate the paper-style tables (measured rows from records, reported rows with their sources), the
    figures, and every ablation report in RESULTS/ablations from its manifest."""
    from benchmark.harness.record import iter_records
    from benchmark.reporting.ablation_report import read_manifests, write_ablation
    from benchmark.reporting.leaderboard import build_boards
    from benchmark.reporting.paper import write_paper

    folder_of_records(results)
    skipped: list[str] = []
    located = list(iter_records(results, skipped))
    records = [r for _, r in located]
    # every table at once, for the --against check (before anything is written) and the site
    boards = build_boards(records, "test", (), converged_only, against) if against is not None or html else []
    if against is not None:
        check_against(boards, against)
    ablations = results / "ablations"
    redrawn = [p for m in read_manifests(ablations) for p in write_ablation(m, results, ablations)[1]] \
        if ablations.is_dir() else []
    paper = out or results / "paper"
    written = write_paper(records, paper, ablations, converged_only, against)
    if html:
        from benchmark.reporting.reported import reported_numbers
        from benchmark.reporting.site import write_site

        figures = [p for p in written if p.parent == paper / "figures"]
        written += write_site(located, boards, paper.parent / "site", figures, reported_numbers())
    for problem in skipped:
        typer.echo(f"skipped: {problem}", err=True)
    typer.echo(written[0].read_text())  # paper.md
    typer.echo("wrote " + ", ".join(str(p) for p in [*redrawn, *written]))


def table_cmd(task: Tasks = [],
              fmt: Annotated[str, typer.Option("--format", "-f", help="md, csv or latex", rich_help_panel=OUTPUT)] = "md",
              split: Annotated[str, typer.Option("--split", help="test or val", rich_help_panel=OUTPUT)] = "test",
              converged_only: ConvergedOnly = False,
              strict: Annotated[bool, typer.Option("--strict", help="exit with status 1 when a record cannot be read",
                                                   rich_help_panel=OUTPUT)] = False,
              results: Results = RUNS, out: Out = None, against: Against = None):
    """Leaderboard from the records: mean ± std over seeds with n, per task, and each row against the best
    trained row (or --against) paired over their cells: the difference with its 95 % interval, an exact test
    (Holm-corrected) and the rank with its interval. Rows mark cells still improving when training ended (↗)
    and cells made from uncommitted code (‡). Unreadable records are skipped and listed."""
    from benchmark.harness.plan import RunError
    from benchmark.harness.record import iter_records
    from benchmark.reporting.leaderboard import RENDERERS, build_boards

    if fmt not in RENDERERS:
        raise RunError(f"--format must be one of {', '.join(RENDERERS)}, got {fmt!r}")
    if split not in ("test", "val"):
        raise RunError(f"--split must be 'test' or 'val', got {split!r}")
    folder_of_records(results)
    skipped: list[str] = []
    tasks = split_names(task)
    boards = build_boards((r for _, r in iter_records(results, skipped)), split, tasks, converged_only, against)
    if not boards:
        raise RunError(f"{results}: no records" + (f" for task(s) {', '.join(tasks)}" if tasks else ""))
    if against is not None:
        check_against(boards, against)
    text = RENDERERS[fmt](boards)
    if out is not None:
        write_atomic(Path(out), text)
        console.print(f"wrote {out}", markup=False)
    else:
        typer.echo(text)
    for problem in skipped:
        typer.echo(f"skipped: {problem}", err=True)
    if skipped and strict:
        raise typer.Exit(1)


def check_against(boards, against: str) -> None:
    """An --against that names no row of any table is a typo, not a table without that model."""
    from benchmark.harness.plan import RunError
    from benchmark.harness.registry import unknown_name_message
    from benchmark.reporting.comparison import model_name

    if boards and all(b.against_missing for b in boards):
        names = sorted({n for b in boards for r in b.rows for n in (r.model, model_name(r.model))})
        raise RunError(f"--against: no table has such a row; {unknown_name_message('row', against, names)}")
