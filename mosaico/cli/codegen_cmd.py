"""`mosaico codegen`: regenerate the standard ontology or generate a user package."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--ontology", "ontology_dirs", multiple=True, type=click.Path(path_type=Path),
    help="Folder of YAML files (repeatable). Default: the standard ontology.",
)  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), help="Output package folder.")
@click.option(
    "--package", help="Python package name of the output (default: the --out folder name)."
)
@click.option(
    "--check", is_flag=True, help="Write nothing; fail with a diff if the output is stale."
)
def codegen(
    ontology_dirs: tuple[Path, ...], out: Path | None, package: str | None, check: bool
) -> None:
    """Generate attrs classes, Arrow schemas and strategies from YAML ontologies."""
    from mosaico.errors import MosaicoError

    try:
        from mosaico_codegen.generate import generate

        outcome = generate(list(ontology_dirs) or None, out=out, package=package, check=check)
    except MosaicoError as exc:  # a missing extra, an invalid ontology, a bad option
        raise click.ClickException(str(exc)) from None
    if check:
        if outcome.stale:
            click.echo(outcome.drift, nl=False)
            raise click.ClickException("generated code is stale: run `mosaico codegen`")
        click.echo("generated code is up to date")
        return
    for name in outcome.written:
        click.echo(f"wrote {name}")
    for name in outcome.removed:
        click.echo(f"removed orphan {name}")
    if not outcome.written and not outcome.removed:
        click.echo("nothing to do: generated code is up to date")
    if outcome.project:
        folder = Path(outcome.project).parent
        click.echo(
            f"wrote {outcome.project}: `pip install -e {folder}` installs the package, "
            "and mosaico then finds its types without an import"
        )
    if outcome.hint:
        click.echo(outcome.hint)
