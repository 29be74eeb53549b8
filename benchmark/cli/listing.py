"""``rlbench tasks`` and ``rlbench models``: what is registered, built-in and plugins, without importing torch."""

from __future__ import annotations

import typer
from rich.table import Table

from benchmark.cli.common import clean_errors, console, load_plugins
from benchmark.cli.options import Plugins

PANEL = "Registry"


def register(app: typer.Typer) -> None:
    app.command("tasks", rich_help_panel=PANEL)(clean_errors(tasks_cmd))
    app.command("models", rich_help_panel=PANEL)(clean_errors(models_cmd))


def tasks_cmd(plugin: Plugins = []):
    """List the registered tasks (built-in and plugins)."""
    listing("task", plugin)


def models_cmd(plugin: Plugins = []):
    """List the registered models (built-in and plugins)."""
    listing("model", plugin)


def listing(kind: str, plugins: list[str]) -> None:
    from rich.markup import escape

    from benchmark.harness.registry import model_registry, task_registry

    load_plugins(plugins)
    registry = model_registry() if kind == "model" else task_registry()
    table = Table(title=f"registered {kind}s", title_justify="left")
    table.add_column(kind)
    table.add_column("source")
    table.add_column("description")
    for entry in registry.entries():
        table.add_row(escape(entry.name), escape(entry.source), escape(entry.describe()))
    console.print(table)
    for warning in registry.warnings:
        typer.echo(f"warning: {warning}", err=True)
