"""Name and identifier matching: every spelling found, ordinary words left alone."""

from __future__ import annotations

import pytest

from radcycle.privacy.matcher import PhiMatcher, name_tokens, scrub_contacts


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("Li^Bo", "Bo Li", ["Bo Li"]),
        ("Li^Bo", "LI, BO seen", ["LI, BO"]),
        ("Li^Bo", "li-bo", ["li-bo"]),
        ("Li^Bo", "Dr Li said", ["Li"]),
        ("O'Brien-Smythe^Mary-Kate", "MARY KATE OBRIEN SMYTHE", ["MARY KATE OBRIEN SMYTHE"]),
        (
            "O'Brien-Smythe^Mary-Kate",
            "Smythe, Mary-Kate O\u2019Brien",
            ["Smythe, Mary-Kate O\u2019Brien"],
        ),
        ("O'Brien-Smythe^Mary-Kate", "ask obrien", ["obrien"]),
        ("M\u00fcller^Zo\u00eb", "zoe muller", ["zoe muller"]),
        ("\u738b^\u5c0f\u6771", "\u738b\u5c0f\u6771\u5148\u751f", ["\u738b", "\u5c0f\u6771"]),
        ("Yamada^Tarou=\u5c71\u7530^\u592a\u90ce", "\u5c71\u7530\u3055\u3093", ["\u5c71\u7530"]),
        ("De La Cruz^Ana", "ana de la cruz", ["ana de la cruz"]),
        ("Smith^J", "J. Smith", ["J. Smith"]),
    ],
)
def test_name_spellings_are_found(name: str, text: str, found: list[str]) -> None:
    assert PhiMatcher((), names=[name]).find(text) == found


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Li^Bo", "Lisbon bolus, li"),  # inside words, and lower case alone
        ("He^Bo", "he has a nodule"),  # a 2-letter component in lower case is a word
        ("De La Cruz^Ana", "de la maison"),  # particles alone
        ("Smith^J", "J wave"),  # an initial alone
        ("Ann^Lee", "SCANNER"),  # glued into a word
    ],
)
def test_ordinary_words_are_left(name: str, text: str) -> None:
    assert PhiMatcher((), names=[name]).find(text) == []


def test_two_letter_component_alone_only_as_written_title_or_upper() -> None:
    matcher = PhiMatcher((), names=["Wu^Bo"])
    assert matcher.find("Wu said; WU said; wu said") == ["Wu", "WU"]


def test_name_tokens_split_hyphens_apostrophes_and_groups() -> None:
    tokens = name_tokens(["O'Brien-Smythe^Mary-Kate", "\u738b^\u5c0f\u6771=Wang^Xiaodong"])
    assert {"Brien", "Smythe", "OBrien", "MaryKate", "Wang", "Xiaodong"} <= tokens.long
    assert tokens.run_only == {"O"}
    assert {"\u738b", "\u5c0f\u6771"} <= tokens.no_space


def test_numbers_are_not_glued_to_digits_but_dates_take_a_time() -> None:
    matcher = PhiMatcher({"1.2.3.4", "20230314", "884422"})
    assert matcher.find("1.2.3.4.5 1.2.3.45 1.2.3.4") == ["1.2.3.4"]
    assert matcher.find("20230314101530.5+0100 DOB20230314") == ["20230314", "20230314"]
    assert matcher.find("2023031412345678 8844221") == []
    assert matcher.find("ID884422") == ["884422"]


def test_contacts_masked_measurements_kept() -> None:
    text = "call (020) 7946-0958 or a.b@example.org; nodule 12.5 x 10 mm, 120 kV"
    assert scrub_contacts(text) == (
        "call *************** or ***************; nodule 12.5 x 10 mm, 120 kV"
    )
