"""Find identifying strings in free text: identifiers, dates and person names.

One compiled regular expression per set of needles, with four kinds of match:

* identifiers and other words (``MRN-884422``, an institution name, a name component
  of three characters or more): whole tokens, any case. A token boundary is anything
  but a letter or digit, so ``ANN`` is not found in ``SCANNER`` but ``Quarrington``
  is found in ``Quarrington_Philomena``;
* numbers (``884422``, dates such as ``2023-03-14``, UIDs): not glued to other
  digits (``1.2.3`` is not found in ``1.2.3.4``), but letters may touch them, and a
  date ``YYYYMMDD`` is found where a time is glued to it as in a DT value
  (``20230314101530.5+0100``);
* person names (:func:`name_tokens`): every component of every component group
  (alphabetic, ideographic, phonetic), the parts of hyphenated and apostrophe names,
  and their run-together spellings; any run of two or more of the name's tokens in
  any order, case and separator (``Li Bo``, ``BO, LI``, ``Mary-Kate O'Brien``). A
  lone token of three characters or more is matched in any case; a lone two-letter
  token (``Li``) only as a whole token spelled as written, capitalised or upper
  case (``Li``, ``LI``, so the English word ``li`` or ``bo`` inside text is left);
  a one-letter token or a particle (``de``, ``van``) only inside a run;
* ideographic, kana and hangul text (``王``, ``小東``): matched anywhere, whatever
  its length, since those scripts do not separate words.

Example:
    >>> matcher = PhiMatcher({"MRN-884422", "20230314"}, names={"Li^Bo"})
    >>> matcher.find("Bo LI, MRN-884422, seen 20230314101530")
    ['Bo LI', 'MRN-884422', '20230314']
    >>> matcher.scrub("Li has a nodule; he lives in Libourne")
    '** has a nodule; he lives in Libourne'
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PLACEHOLDERS",
    "PhiMatcher",
    "cached_matcher",
    "name_tokens",
    "scrub_contacts",
]

# Shortest identifier we look for: shorter strings ("M", "12") occur by chance.
MIN_LENGTH = 3
# Longest: a longer value (a whole report) is not a useful needle.
MAX_LENGTH = 200

# Values that identify nobody; the de-identifier writes some of them as dummies.
PLACEHOLDERS = frozenset(
    {
        "ANONYMOUS",
        "ANONYMIZED",
        "ANONYMISED",
        "ANON",
        "REMOVED",
        "UNKNOWN",
        "NONE",
        "N/A",
        "NULL",
        "TEST",
        "PSEUDONYM",
        "PATIENT",
        "DOCTOR",
        "PHYSICIAN",
        "DR.",
        "MR.",
        "MRS.",
        "19000101",
    }
)

# Scripts written without spaces between words (CJK ideographs, kana, hangul).
_NO_SPACE = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)
_COMPONENTS = re.compile(r"[\^=\s,]+")
_PARTS = re.compile(r"[-'\u2019\u2018`.]+")
# Separators between the tokens of a name written out in free text.
_SEPARATOR = r"[\s,\^=\-'\u2019\u2018`._/]{1,3}"
# Name particles, titles and suffixes: masked only next to another token of the name.
_PARTICLES = frozenset(
    {"DE", "LA", "DA", "DI", "DU", "LE", "EL", "AL", "DEL", "DER", "DEN", "VAN", "VON"}
    | {"TER", "TEN", "DOS", "DAS", "BIN", "IBN", "Y", "E"}
    | {"JR", "SR", "II", "III", "IV", "MD", "DR", "MR", "MRS", "MS", "PHD"}
)
_WORD_BEFORE = r"(?<![^\W_])"
_WORD_AFTER = r"(?![^\W_])"
_DT_TAIL = r"(?=(?:[0-9]{2}){1,3}(?:\.[0-9]{1,6})?(?:[+-][0-9]{4})?(?![0-9])|(?![0-9]))"


# E-mail addresses, and telephone numbers: seven digits or more in groups of two to
# four, optionally after "+" or in brackets (a measurement "12.5 x 10 mm" is not one).
_CONTACT = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|(?<![\w.])\+?\(?[0-9]{2,4}\)?(?:[ .\-/]?\(?[0-9]{2,4}\)?){2,5}(?![\w]|\.[0-9])"
)


def scrub_contacts(text: str) -> str:
    """``text`` with e-mail addresses and telephone-like numbers masked.

    Applied to the free text radcycle keeps, since a relative's or a doctor's
    contact details are not among the file's own identifiers.

    Example:
        >>> scrub_contacts("call +44 20 7946 0958 or ann@example.org; 12.5 x 10 mm")
        'call **************** or ***************; 12.5 x 10 mm'
    """
    if not text or not any(ch.isdigit() or ch == "@" for ch in text):
        return text
    return _CONTACT.sub(lambda m: _masked_contact(m.group(0)), text)


def _masked_contact(found: str) -> str:
    if "@" not in found and sum(ch.isdigit() for ch in found) < 7:
        return found
    return "*" * len(found)


@dataclass(frozen=True)
class _NameTokens:
    long: frozenset[str]  # three characters or more: alone, any case
    short: frozenset[str]  # two letters: alone as written, Title or UPPER
    run_only: frozenset[str]  # one letter, particles: only next to another token
    no_space: frozenset[str]  # ideographic, kana, hangul: anywhere


def _folded(text: str) -> str:
    """``text`` without accents (``Zoë`` -> ``Zoe``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def name_tokens(names: Iterable[str]) -> _NameTokens:
    """The tokens of person names (DICOM PN values, ``^`` and ``=`` separated).

    Each component is split further at hyphens, apostrophes and dots; the
    run-together spellings of its consecutive parts (``OBrien``, ``MaryKate``,
    ``OBrienSmythe``) and its accent-free spelling are added.

    Example:
        >>> tokens = name_tokens(["O'Brien-Smythe^Mary-Kate"])
        >>> sorted(tokens.long)[:4], sorted(tokens.run_only)
        (['Brien', 'BrienSmythe', 'Kate', 'Mary'], ['O'])
    """
    found: set[str] = set()
    for name in names:
        for component in _COMPONENTS.split(name):
            parts = [p for p in _PARTS.split(component) if p]
            found.add(component.strip("-'.\u2019\u2018`"))
            for i in range(len(parts)):
                for j in range(i + 1, len(parts) + 1):
                    found.add("".join(parts[i:j]))
    found |= {_folded(t) for t in found}
    long, short, run_only, no_space = set(), set(), set(), set()
    for token in found:
        if not token or len(token) > MAX_LENGTH or token.upper() in PLACEHOLDERS:
            continue
        if _NO_SPACE.search(token):
            no_space.add(token)
        elif token.upper() in _PARTICLES or len(token) == 1:
            run_only.add(token)
        elif len(token) == 2:
            short.add(token)
        else:
            long.add(token)
    return _NameTokens(frozenset(long), frozenset(short), frozenset(run_only), frozenset(no_space))


def _is_numeric(needle: str) -> bool:
    return needle[0].isdigit() and needle[-1].isdigit()


def _case_forms(token: str) -> set[str]:
    return {token, token.upper(), token[:1].upper() + token[1:].lower()}


@dataclass(frozen=True)
class PhiMatcher:
    """Case-insensitive search for identifying strings and person names.

    Args:
        needles: identifiers, dates, UIDs, addresses (three characters or more).
        names: person names as DICOM PN values (``Family^Given=...``).
    """

    needles: frozenset[str]
    _pattern: re.Pattern[str] | None

    def __init__(self, needles: Iterable[str], names: Iterable[str] = ()) -> None:
        clean = frozenset(n for n in needles if MIN_LENGTH <= len(n) <= MAX_LENGTH)
        tokens = name_tokens(names)
        object.__setattr__(self, "needles", clean | tokens.long | tokens.short | tokens.no_space)
        object.__setattr__(self, "_pattern", _compile(clean, tokens))

    def find(self, text: str) -> list[str]:
        """The identifying strings found in ``text``, as they are spelled there."""
        if self._pattern is None or not text:
            return []
        return [m.group(0) for m in self._pattern.finditer(text)]

    def scrub(self, text: str) -> str:
        """``text`` with every identifying string replaced by asterisks of equal length."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: "*" * len(m.group(0)), text)


def _compile(needles: frozenset[str], tokens: _NameTokens) -> re.Pattern[str] | None:
    numbers = {n for n in needles if _is_numeric(n)}
    dates = {n for n in numbers if len(n) == 8 and n.isdigit()}
    no_space = {n for n in needles if _NO_SPACE.search(n)} | tokens.no_space
    words = (needles - numbers - no_space) | tokens.long
    branches = []
    run_tokens = tokens.long | tokens.short | tokens.run_only
    word_parts = []
    if run_tokens:
        # Two or more tokens, one of them not a particle or initial.
        any_token, main = _trie_regex(run_tokens), _trie_regex(tokens.long | tokens.short)
        before, after = f"(?:{any_token}{_SEPARATOR})", f"(?:{_SEPARATOR}{any_token})"
        word_parts.append(f"{before}+{main}{after}*|{main}{after}+")
    if words:
        word_parts.append(_trie_regex(words))
    if tokens.short:
        forms = set().union(*(_case_forms(t) for t in tokens.short))
        word_parts.append(f"(?-i:{_trie_regex(forms, fold=False)})")
    if word_parts:
        branches.append(f"{_WORD_BEFORE}(?:{'|'.join(word_parts)}){_WORD_AFTER}")
    if dates:
        branches.append(f"(?<![0-9])(?:{_trie_regex(dates)}){_DT_TAIL}")
    if numbers - dates:
        body = _trie_regex(numbers - dates)
        branches.append(f"(?<![0-9])(?<![0-9]\\.)(?:{body})(?![0-9])(?!\\.[0-9])")
    if no_space:
        branches.append(_trie_regex(no_space))
    if not branches:
        return None
    return re.compile("|".join(branches), re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def cached_matcher(needles: frozenset[str], names: frozenset[str] = frozenset()) -> PhiMatcher:
    """A :class:`PhiMatcher` compiled once per set of needles and names.

    The files of one patient share their identifiers, so a batch compiles each
    patient's pattern once per process.
    """
    return PhiMatcher(needles, names)


def _trie_regex(words: Iterable[str], fold: bool = True) -> str:
    """One regular expression matching any of ``words``, factored by common prefixes.

    A plain alternation of thousands of UIDs is slow in Python's backtracking engine;
    a prefix tree keeps each match attempt proportional to the word length. With
    ``fold`` the words are upper-cased first (the pattern is case-insensitive).
    """
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    chosen = set(words) | ({w.upper() for w in words} if fold else set())
    for word in sorted(chosen):
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _emit(trie)


def _emit(node: dict) -> str:  # type: ignore[type-arg]
    branches = []
    for char, child in sorted(node.items()):
        if not char:
            continue
        # Collapse a chain of single children into one literal (keeps recursion shallow).
        literal = char
        while len(child) == 1 and "" not in child:
            ((next_char, child),) = child.items()
            literal += next_char
        branches.append(re.escape(literal) + _emit(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body
