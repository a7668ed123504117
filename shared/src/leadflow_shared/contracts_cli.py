"""`leadflow contracts export|check`: the JSON Schemas and AsyncAPI document under shared/contracts/."""

import typer

from leadflow_shared import asyncapi

app = typer.Typer(help="Event contracts: JSON Schema per topic and the AsyncAPI document.", no_args_is_help=True)


@app.command()
def export() -> None:
    """Regenerate shared/contracts/ from the contract models."""
    for name in asyncapi.export():
        typer.echo(f"wrote {asyncapi.CONTRACTS_DIR / name}")


@app.command()
def check() -> None:
    """Fail when shared/contracts/ is not what the models generate."""
    stale = asyncapi.stale_documents()
    if stale:
        typer.echo(f"stale: {', '.join(stale)} — run `leadflow contracts export`", err=True)
        raise typer.Exit(1)
    typer.echo("contracts are current")
