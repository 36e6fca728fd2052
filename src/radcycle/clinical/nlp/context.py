"""ConText-style assertion: is a mention negated, uncertain or affirmed?

The algorithm follows ConText (Harkema et al., J Biomed Inform 2009;42:839-851),
itself an extension of NegEx (Chapman et al., J Biomed Inform 2001;34:301-310):
trigger phrases open a scope that runs forward (``pre`` triggers: "no",
"without", "possible") or backward (``post`` triggers: "is not seen",
"cannot be excluded") over the sentence, and the scope stops at a termination
phrase ("but", "however", "there is", ";") or after :data:`MAX_SCOPE_WORDS`
words. Pseudo-triggers ("no change", "not only") contain a trigger word but
open no scope. Where a negation and an uncertainty trigger both reach a
mention, the negation wins (a negated hedge such as "no definite
opacity" is a negation); "cannot exclude" is uncertainty, not negation.

The trigger lists are data (:data:`TRIGGERS`), written for chest radiograph
reports.

Example:
    >>> ctx = SentenceContext("no acute disease, however there is a small effusion")
    >>> ctx.assertion(41, 49)
    True
    >>> SentenceContext("cannot exclude pneumonia").assertion(15, 24)
    'uncertain'
    >>> SentenceContext("no pleural effusion or pneumothorax").assertion(23, 35)
    False
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["MAX_SCOPE_WORDS", "TRIGGERS", "Presence", "SentenceContext"]

Presence = bool | Literal["uncertain"]

# Longest scope of a trigger, in words (NegEx used a 5-word window; lists in
# chest reports such as "no pneumonia, effusions, edema, pneumothorax,
# adenopathy, nodules or masses" need a longer one, bounded by terminations).
MAX_SCOPE_WORDS = 14
# Post triggers reach back at most this many words ("effusion ... is not seen").
MAX_POST_SCOPE_WORDS = 8

# Trigger phrases by role. Kinds: pre_neg, post_neg, pre_unc, post_unc,
# bi_unc (both directions), pseudo (masks triggers inside it), term (ends scope).
TRIGGERS: dict[str, tuple[str, ...]] = {
    "pre_neg": (
        r"no",
        r"not",
        r"without",
        r"negative for",
        r"negative",
        r"free of",
        r"(?:clear|clean) of",
        r"absence of",
        r"absent",
        r"resolution of",
        r"resolved",
        r"clearing of",
        r"removal of",
        r"no evidence of",
        r"no radiographic evidence of",
        r"rather than",
        r"ruled out",
        r"rules out",
        r"nor",
        r"neither",
        r"never",
        r"denies",
        r"exclude[sd]?",
    ),
    "post_neg": (
        r"(?:is|are|was|were|has been|have been)\s+(?:not|no longer)\b",
        r"not (?:definitely |clearly |convincingly )?(?:seen|identified|visualized|present|evident|noted|demonstrated|appreciated)",  # noqa: E501
        r"(?:has|have)?\s*resolved",
        r"(?:has|have)?\s*cleared",
        r"no longer (?:seen|visualized|present|identified|evident)",
        r"(?:is|are|was|were)\s+absent",
        r"(?:is |are |appears? |remains? )?(?:within normal limits|within (?:the )?limits of normal)",  # noqa: E501
        r"removed",
        r"free",
        r"unlikely",
        r"(?:is|are) excluded",
        r"ruled out",
    ),
    "pre_unc": (
        r"possible",
        r"possibly",
        r"may (?:be|represent|reflect|indicate|have|relate)",
        r"might (?:be|represent)",
        r"could (?:be|represent|reflect|indicate)",
        r"(?:cannot|can ?not|can't) (?:be )?(?:entirely |completely |totally |definitely )?(?:excluded?|ruled? out)",  # noqa: E501
        r"not (?:be )?(?:excluded?|ruled? out)",
        r"(?:concerning|suspicious|worrisome|questionable) for",
        r"suspicious",
        r"suspected",
        r"suspect",
        r"concern for",
        r"question(?: of)?",
        r"questionable",
        r"suggest(?:s|ive of|ing)?",
        r"presumably",
        r"presumed",
        r"equivocal",
        r"(?:to )?(?:evaluate|assess|rule out|exclude)(?: for)?",
        r"r/o",
        r"differential(?: diagnosis)?(?: includes| of)?",
        r"if there is",
        r"in the (?:appropriate|correct|proper|right) clinical (?:setting|context)",
        r"correlat\w* (?:clinically )?(?:for|as to)",
        r"considerations? (?:includes?|of)",
        r"(?:history|hx) of",
        r"(?:to|help) (?:identify|detect|characterize|localize)",
        r"(?:could|may|might) (?:obscure|mask|hide)",
        r"(?:for )?(?:further )?evaluation (?:of|for)",
        r"early",
        r"developing",
        r"\?",
    ),
    "post_unc": (
        r"(?:is|are) (?:possible|suspected|questioned|not excluded|not ruled out)",
        r"(?:may|might|can|could) not be (?:demonstrated|seen|visible|visualized|detected|apparent)",  # noqa: E501
        r"(?:cannot|can ?not|can't) (?:be )?(?:entirely |completely |totally |definitely )?(?:excluded?|ruled? out)",  # noqa: E501
        r"(?:is|are) not (?:excluded|ruled out)",
        r"(?:would be|is|are) (?:a |another )?considerations?",
        r"not (?:be )?(?:excluded?|ruled? out)",
        r"(?:is|are) (?:less|more) likely",
        r"\?",
    ),
    "pseudo": (
        r"no (?:significant |interval |appreciable |substantial )?change",
        r"no (?:significant |interval )?(?:increase|decrease|progression|worsening)",
        r"not (?:only|necessarily|significantly changed|changed)",
        r"without (?:significant |interval )?change",
        r"without (?:significant |interval )?(?:increase|decrease|progression)",
        r"no new",
        r"gram negative",
        r"to (?:suggest|indicate|represent)",
        r"most (?:suggestive of|likely|consistent with|compatible with|compatible|consistent)",
        r"(?:that|which) would (?:suggest|indicate)",
        r"not well (?:seen|visualized)",
        r"not (?:clearly|well) (?:defined|delineated)",
    ),
    "term": (
        r"but",
        r"however",
        r"although",
        r"though",
        r"except",
        r"aside from",
        r"apart from",
        r"other than",
        r"with the exception of",
        r"which",
        r"there (?:is|are|has been|have been)",
        r"is (?:present|seen|noted|identified)",
        r"are (?:present|seen|noted|identified)",
        r"now",
        r"again",
        r"still",
        r"persistent",
        r"[;:]",
        r"\bwith\b(?! (?:evidence|signs?) of)",
    ),
}


def _compile(phrases: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first so "no evidence of" wins over "no". Word phrases need word
    # boundaries; punctuation (";", "?") matches even when glued to a word.
    ordered = sorted(phrases, key=len, reverse=True)
    words = [p for p in ordered if p[:1].isalnum() or p.startswith("(")]
    marks = [p for p in ordered if p not in words]
    pattern = r"(?<![\w-])(?:" + "|".join(words) + r")(?![\w-])"
    return re.compile(pattern + "".join(f"|{m}" for m in marks))


_PATTERNS: dict[str, re.Pattern[str]] = {kind: _compile(p) for kind, p in TRIGGERS.items()}
_WORD_RE = re.compile(r"[\w']+")


@dataclass(frozen=True)
class _Trigger:
    kind: str
    start: int
    end: int


def _start(t: _Trigger) -> int:
    return t.start


def _end(t: _Trigger) -> int:
    return t.end


class _Spans:
    """Character spans merged into disjoint intervals, asked whether they cover a point."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for s, e in sorted(spans):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self._starts = [m[0] for m in merged]
        self._ends = [m[1] for m in merged]

    def covers(self, point: int) -> bool:
        i = bisect_right(self._starts, point) - 1
        return i >= 0 and point < self._ends[i]


class SentenceContext:
    """Triggers found once in a sentence, then queried per mention span.

    Every query looks only at the triggers within scope of the mention (found
    by bisection), so a sentence with many mentions costs time in proportion
    to its length, not to its length squared.

    Args:
        sentence: the sentence, lower case (spans refer to this string).
    """

    def __init__(self, sentence: str) -> None:
        self.sentence = sentence
        pseudo = _Spans((m.start(), m.end()) for m in _PATTERNS["pseudo"].finditer(sentence))
        found: list[_Trigger] = []
        for kind in ("pre_neg", "post_neg", "pre_unc", "post_unc", "term"):
            for match in _PATTERNS[kind].finditer(sentence):
                if not pseudo.covers(match.start()):
                    found.append(_Trigger(kind, match.start(), match.end()))
        # An uncertainty phrase containing a negation word ("cannot be excluded",
        # "not ruled out") is uncertainty only: drop negations inside it.
        unc = _Spans((t.start, t.end) for t in found if t.kind.endswith("_unc"))
        self.triggers = [t for t in found if not (t.kind.endswith("_neg") and unc.covers(t.start))]
        self._terms = [t for t in self.triggers if t.kind == "term"]
        self._term_starts = [t.start for t in self._terms]
        words = list(_WORD_RE.finditer(sentence))
        self._word_starts = [w.start() for w in words]
        self._word_ends = [w.end() for w in words]
        self._pre = sorted((t for t in self.triggers if t.kind.startswith("pre")), key=_end)
        self._pre_ends = [t.end for t in self._pre]
        self._post = sorted((t for t in self.triggers if t.kind.startswith("post")), key=_start)
        self._post_starts = [t.start for t in self._post]
        # A question ("... pneumonia?") asserts nothing.
        self.question = sentence.rstrip().endswith("?")

    def _words_between(self, start: int, end: int) -> int:
        """Words overlapping ``sentence[start:end]`` (as ``findall`` with pos/endpos)."""
        return bisect_left(self._word_starts, end) - bisect_right(self._word_ends, start)

    def _terminated(self, start: int, end: int) -> bool:
        # terms come from one pattern: no overlaps, so ends grow with starts
        i = bisect_left(self._term_starts, start)
        return i < len(self._terms) and self._terms[i].end <= end

    def _in_scope(self, start: int, end: int) -> list[_Trigger]:
        """Triggers that could reach the mention: within the scope limit in words."""
        # beyond these words the gap holds more words than the scope allows
        first = bisect_left(self._word_starts, start) - MAX_SCOPE_WORDS - 1
        lo = self._word_starts[first] if first > 0 else 0
        pre = self._pre[bisect_left(self._pre_ends, lo) : bisect_right(self._pre_ends, start)]
        last = bisect_left(self._word_starts, end) + MAX_POST_SCOPE_WORDS + 1
        hi = self._word_ends[last] if last < len(self._word_ends) else len(self.sentence)
        post = self._post[bisect_left(self._post_starts, end) : bisect_right(self._post_starts, hi)]
        return [*pre, *post]

    def _reach(self, trigger: _Trigger, start: int, end: int) -> int | None:
        """Distance in words from trigger to mention if the trigger's scope covers it."""
        if trigger.kind.startswith("pre") and trigger.end <= start:
            gap = (trigger.end, start)
            limit = MAX_SCOPE_WORDS
        elif trigger.kind.startswith("post") and trigger.start >= end:
            gap = (end, trigger.start)
            limit = MAX_POST_SCOPE_WORDS
        else:
            return None
        if self._terminated(*gap):
            return None
        words = self._words_between(*gap)
        return words if words <= limit else None

    def assertion(self, start: int, end: int) -> Presence:
        """Assertion of the mention at ``sentence[start:end]``.

        Returns:
            ``False`` when negated, ``"uncertain"`` when hedged or hypothetical,
            ``True`` otherwise.
        """
        inside = self.sentence[start:end]
        if re.search(r"\b(?:not|no)\b", inside):
            return False
        reached = {
            trigger.kind[-3:]
            for trigger in self._in_scope(start, end)
            if self._reach(trigger, start, end) is not None
        }
        # A negated hedge is a negation: "no suspicious opacity", "no definite effusion".
        if "neg" in reached:
            return False
        if "unc" in reached or self.question:
            return "uncertain"
        return True
