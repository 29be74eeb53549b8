"""The ``rlbench`` command line: one module per group of commands, the options they share declared once
(``options``), progress apart (``progress``). Nothing here imports torch: models load only when a run
needs them."""

from __future__ import annotations

import typer

from benchmark.cli import data, listing, reports, run

app = typer.Typer(
    help="rlbench: long-sequence affect and video-summarization benchmark (RL-based memory network and baselines).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
for group in (run, reports, data, listing):
    group.register(app)


def main() -> None:
    app()
