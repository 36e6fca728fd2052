"""``radcycle verify FINDINGS.json TEXT_FILE``: is each sentence supported by the analysis?

The text is one sentence per line, or free text split into sentences. Each is
checked against the facts of ``findings.json`` (or a ``report.json``) by
:func:`radcycle.reporting.verifier.verify_sentence`; the command prints, per
sentence, whether it is supported, the facts it matched and why it failed.
Exit status 0 when every sentence is supported, 1 when one is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import json_option
from radcycle.clinical.text import decode_text
from radcycle.domain import Fact
from radcycle.errors import DataFormatError, InputError
from radcycle.reporting.claims import split_sentences
from radcycle.reporting.verifier import verify_sentence

console = Console()


# findings.json 1 and 2 (2 changed only the RECIST targets' provenance) and
# report.json 1 hold facts of the same shape.
_READABLE_VERSIONS = ("1", "2")


def load_facts(path: Path) -> tuple[Fact, ...]:
    """The facts of a findings.json or report.json.

    Raises:
        DataFormatError: not JSON, or without a ``facts`` list.
    """
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=path) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFormatError("not a JSON document", path=path) from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version is not None and str(version) not in _READABLE_VERSIONS:
        raise DataFormatError(
            f"schema_version {version!r} is not one this radcycle reads "
            f"({', '.join(_READABLE_VERSIONS)})",
            path=path,
        )
    items = data.get("facts") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise DataFormatError("no 'facts' list (expected findings.json or report.json)", path=path)
    try:
        return tuple(Fact.from_dict(item) for item in items)
    except InputError as exc:
        raise DataFormatError(f"a fact is malformed: {exc.message}", path=path) from exc


def read_text(path: Path) -> str:
    """The text of a file in any encoding :func:`decode_text` finds (binary or empty is refused)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=path) from exc
    return decode_text(data, source=str(path))


@friendly_errors
def verify(
    findings: Path = typer.Argument(..., help="findings.json (or report.json) of an analysis."),
    text_file: Path = typer.Argument(..., help="Text to check: one sentence a line, or prose."),
    as_json: bool = json_option(),
) -> None:
    """Check each sentence of a text against the facts of an analysis."""
    facts = load_facts(findings)
    verdicts = [verify_sentence(s, facts) for s in split_sentences(read_text(text_file))]
    if as_json:
        typer.echo(json.dumps([v.to_dict() for v in verdicts], indent=2))
    else:
        for v in verdicts:
            mark = "[green]supported[/]" if v.supported else "[red]NOT supported[/]"
            console.print(f"{mark}: {escape(v.text)}", highlight=False)
            if v.fact_ids:
                console.print(f"  facts: {', '.join(v.fact_ids)}", highlight=False)
            for reason in v.reasons:
                console.print(f"  - {escape(reason)}", highlight=False)
    if not all(v.supported for v in verdicts):
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
