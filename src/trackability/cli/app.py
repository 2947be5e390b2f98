"""The typer application that every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="trackability",
    help="Single-cell perturbation prediction from unpaired populations, with trackability "
    "diagnostics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        from trackability._version import __version__

        typer.echo(f"trackability {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Single-cell perturbation prediction from unpaired populations."""


def fail(message: str, code: int = 2) -> None:
    """Print an error to stderr and exit with ``code`` (for bad user input, not bugs)."""
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)
