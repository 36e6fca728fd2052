"""Planted identifiers: how many the checker finds before de-identification, how many remain.

Every case of ``tests/privacy/planting.py`` (SR trees, attributes outside the table,
dates, UIDs, names in five character sets, identifiers in text), written in every
encoding variant, de-identified under the Basic Profile and under Modified Dates
with both clean options. Per category: secrets planted, found by ``deid-check``
in the originals, and left in the output as found by the checker and by an
independent search of every decoded value.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.table import Table
from tests.privacy.planting import CASES, VARIANTS, present, write
from tests.privacy.test_planted_cases import output_text

from radcycle.privacy.batch import deidentify_tree
from radcycle.privacy.check import check_tree
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.profile import DeidOptions

KEY = DeidKey(bytes(range(32)))
OPTION_SETS = {
    "basic": DeidOptions(),
    "modified+clean": DeidOptions(dates="modified", clean_descriptors=True, clean_structured=True),
}


def run(workdir: Path) -> Table:
    planted: Counter[str] = Counter()
    before: Counter[str] = Counter()
    left_checker: Counter[str] = Counter()
    left_search: Counter[str] = Counter()
    for case in CASES:
        for variant in VARIANTS:
            src = workdir / f"{case.id}-{variant}" / "in"
            src.mkdir(parents=True)
            write(case.build(), src / "case.dcm", variant)
            details = [leak.detail.casefold() for leak in check_tree(src, src).leaks]
            for label, options in OPTION_SETS.items():
                out = src.parent / label
                deidentify_tree(src, out, KEY, options, workers=1)
                after = [leak.detail.casefold() for leak in check_tree(out, src).leaks]
                text, _raw = output_text(out)
                for secret in case.secrets:
                    planted[case.category] += 1
                    before[case.category] += any(secret.casefold() in d for d in details)
                    left_checker[case.category] += any(secret.casefold() in d for d in after)
                    left_search[case.category] += present(secret, text)
    table = Table(title="Planted identifiers (cases x encodings x option sets)")
    for column in ("category", "planted", "found before", "left (checker)", "left (search)"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category in sorted(planted):
        table.add_row(
            category,
            str(planted[category]),
            str(before[category]),
            str(left_checker[category]),
            str(left_search[category]),
        )
    table.add_row(
        "all",
        str(sum(planted.values())),
        str(sum(before.values())),
        str(sum(left_checker.values())),
        str(sum(left_search.values())),
    )
    return table
