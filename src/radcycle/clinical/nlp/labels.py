"""The 14 CheXpert observations and the phrases that mention them.

Label names are exactly those of CheXpert (Irvin et al., AAAI 2019). The
synonym lexicon (:data:`LEXICON`) is this project's own, written for chest
radiograph reports and documented in docs/clinical.md. Phrases are regular
expressions matched on lower-case text at word boundaries.

``No Finding`` is never matched directly: it is derived (see
:func:`no_finding`) and is positive only when no other observation is
positive or uncertain and no other abnormality (:data:`OTHER_ABNORMALITIES`,
e.g. granuloma, scoliosis, hyperinflation) is mentioned as present.

Example:
    >>> [(m.label, m.text) for m in find_mentions("small left pleural effusion")]
    [('Pleural Effusion', 'pleural effusion')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "CHEXPERT_LABELS",
    "LEXICON",
    "NO_FINDING",
    "OTHER",
    "OTHER_ABNORMALITIES",
    "Mention",
    "find_mentions",
    "no_finding",
]

NO_FINDING = "No Finding"
# Internal label for abnormalities outside the 14 observations; it only blocks
# "No Finding" and is reported under ``other_findings``.
OTHER = "Other"

CHEXPERT_LABELS: tuple[str, ...] = (
    NO_FINDING,
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Lesion",
    "Lung Opacity",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

_HEART = r"(?:heart(?: size)?|(?:cardiac|cardiomediastinal) (?:silhouette|shadow|contour|size)|heart shadow)"  # noqa: E501
_ENLARGED = r"(?:\w+ )?(?:enlarged|large|increased|prominent)"

LEXICON: dict[str, tuple[str, ...]] = {
    # "Enlarged cardiomediastinal silhouette" names the heart (read as Cardiomegaly,
    # through _HEART); this label is for the mediastinum itself.
    "Enlarged Cardiomediastinum": (
        r"(?:widened|widening of the|enlarged|prominent) (?:superior |upper )?mediastin(?:um|al silhouette|al contours?)",  # noqa: E501
        r"mediastin(?:um|al (?:silhouette|contours?))(?: and [\w ]+?)? (?:is |are |appears? )?(?:\w+ ){0,2}(?:not )?(?:widened|enlarged|prominent)",  # noqa: E501
        r"(?:mediastinal|paratracheal) (?:widening|prominence|fullness)",
        r"(?:widening|prominence|fullness) of the (?:superior |upper )?mediastinum",
    ),
    "Cardiomegaly": (
        r"cardiomegaly",
        r"cardiac enlargement",
        r"enlarge(?:d|ment of the) " + _HEART,
        rf"{_HEART} (?:is |are |appears |remains |appear )?(?:not )?{_ENLARGED}",
        # "Upper limits of normal" and "top normal" describe a normal heart; only
        # "borderline" is read as (mild) cardiomegaly.
        rf"{_HEART} (?:is |appears )?(?:at |within )?(?:the )?borderline(?: enlarged)?",
        r"borderline (?:heart|cardiac|cardiomegaly)(?: size)?",
    ),
    "Lung Lesion": (
        r"nodules?(?! (?:opacit|densit))",
        r"nodular lesions?",
        r"masse?s?",
        r"(?:lung|pulmonary|cavitary|cavitating) lesions?",
        r"tumou?rs?",
        r"neoplasms?",
        r"carcinoma",
        r"malignanc(?:y|ies)",
        r"metastas[ie]s",
        r"cavitation",
        r"cavit(?:y|ies)",
        r"mass-?like",
        r"fibronodular",
    ),
    "Lung Opacity": (
        r"opaci(?:ty|ties|fication|fications)",
        r"densit(?:y|ies)",
        r"air ?-?space (?:disease|process|opacit(?:y|ies))",
        r"infiltrates?",
        r"infiltration",
        r"interstitial (?:markings?|prominence|opacit(?:y|ies)|pattern|disease|changes?|thickening|lung disease)",  # noqa: E501
        r"reticular(?: \w+)?",
        r"reticulonodular",
        r"scar(?:ring|s)?",
        r"fibro(?:sis|tic changes?)",
        r"haz(?:y|iness)",
        r"ground[- ]glass",
        r"peribronchial (?:cuffing|thickening)",
    ),
    "Edema": (
        r"(?<!soft tissue )(?<!soft tissues )edema",
        r"(?:pulmonary )?vascular (?:prominence|engorgement|indistinctness)",
        r"(?:prominent|indistinct) (?:pulmonary )?vascul(?:ature|arity|ar markings|ar margination)",
        r"(?:pulmonary )?venous hypertension",
        r"(?:(?:vascular|pulmonary|venous) )?congestion",
        r"congestive (?:heart )?failure",
        r"chf",
        r"heart failure",
        r"fluid overload",
        r"kerley b?",
        r"cephalization",
    ),
    "Consolidation": (r"consolidat(?:ion|ions|ive|ed)",),
    "Pneumonia": (
        r"pneumonias?",
        r"bronchopneumonia",
        r"pneumonitis",
        r"(?<!granulomatous )(?<!tuberculous )(?<!tuberculosis )infect(?:ion|ions|ious process|ious)",  # noqa: E501
    ),
    "Atelectasis": (
        r"atelecta(?:sis|ses|tic)",
        r"(?:lobar |lobe |segmental )?collapse",
        r"volume loss",
    ),
    "Pneumothorax": (
        r"pneumothora(?:x|ces)",
        r"hydropneumothorax",
        r"hemopneumothorax",
    ),
    "Pleural Effusion": (
        r"(?<!pericardial )(?:pleural )?effusions?",
        r"pleural fluid",
        r"hydrothorax",
        r"fluid (?:in|within|tracking (?:along|into)) the (?:\w+ )?fissure",
    ),
    "Pleural Other": (
        r"pleural (?:thickening|plaques?|calcifications?|scarring|fibrosis|abnormalit(?:y|ies))",
        r"(?:fissural|pleural-parenchymal|pleuroparenchymal) (?:thickening|scarring)",
        r"thickening of the (?:\w+ )?(?:pleura|fissure)",
        r"(?:pleural|apical) (?:capping|cap)",
        r"fibrothorax",
        r"pleural parenchymal scarring",
    ),
    "Fracture": (
        r"(?<!catheter )(?<!line )fractures?",
        r"fractured(?! (?:\w+ )?(?:lead|wire|catheter))",
    ),
    "Support Devices": (
        r"(?:central venous |venous |jugular |subclavian |picc |midline )?catheters?",
        r"picc(?: line)?",
        r"(?:central |venous |midline )?lines?(?= (?:tip|terminat|with|in|extend|project|overl))",
        r"(?:endotracheal|nasogastric|orogastric|enteric|feeding|chest|tracheostomy|et|ng|og|dobhoff) tubes?",  # noqa: E501
        r"pacemakers?",
        r"pacer",
        r"(?:cardiac )?defibrillators?",
        r"aicd",
        r"icd",
        r"(?:monitor |pacemaker |pacer |cardiac )?leads?(?! to\b)",
        r"(?<!scapular )(?<!scapula )tips?",
        r"(?:nerve |spinal |neuro)?stimulators?",
        r"(?:pulse )?generators?",
        r"(?:bypass |graft |cabg )?markers",
        r"sutures",
        r"tracheostomy",
        r"(?:sternotomy|sternal|cerclage) wires?",
        r"(?:surgical |vascular )?clips?",
        r"stents?",
        r"port(?:-a-cath|acath)?(?= (?:catheter|reservoir|with|in|tip|over|termin))",
        r"(?:valve|valvular) (?:replacement|prosthesis)",
        r"prosthetic (?:\w+ )?valve",
        r"(?:orthopedic |surgical |spinal |fixation )?hardware",
        r"(?:loop )?recorder",
        r"(?:medical )?devices?",
        r"tubes?",
        r"shunt(?: catheter)?",
    ),
}

# Abnormalities outside the 14 observations that make a report not normal.
OTHER_ABNORMALITIES: tuple[str, ...] = (
    r"granulomas?",
    r"granulomatous",
    r"calcifi(?:ed|cation|cations)",
    r"degenerative",
    r"spondylosis",
    r"osteophytes?",
    r"(?:levo|dextro)?scolio(?:sis|tic)",
    r"kyphosis",
    r"spurring",
    r"endplate (?:changes?|depressions?|sclerosis)",
    r"osteodystrophy",
    r"foreign bod(?:y|ies)",
    r"(?:nipple|body) (?:ring|piercing)s?",
    r"(?:lung )?volumes (?:are |is )?(?:low|diminished|decreased|reduced)",
    r"technically (?:limited|suboptimal)",
    r"(?:limited|suboptimal|nondiagnostic|non-diagnostic) (?:exam\w*|study|evaluation|view|inspiration)",  # noqa: E501
    r"nondiagnostic|non-diagnostic",
    r"kyphotic",
    r"tortuous",
    r"tortuosity",
    r"ectatic",
    r"ectasia",
    r"atherosclero(?:sis|tic)",
    r"hyperinflat(?:ed|ion)",
    r"hyperexpan(?:ded|sion)",
    r"hyperexpanded",
    r"over ?-?(?:inflated|expanded)",
    r"emphysema(?:tous)?",
    r"copd",
    r"hypoinflat(?:ed|ion)",
    r"low lung volumes?",
    r"(?:elevat(?:ed|ion) of the|elevated) (?:\w+ )?(?:hemi)?diaphragm",
    r"(?:hemi)?diaphragm (?:is |are )?elevated",
    r"eventration",
    r"hernia",
    r"flatten(?:ed|ing)",
    r"blunt(?:ed|ing)",
    r"deformit(?:y|ies)",
    r"bronchovascular (?:markings|crowding|prominence)",
    r"(?:prominent|enlarged) hil(?:a|um|ar)",
    r"hilar (?:prominence|enlargement|adenopathy|lymphadenopathy)",
    r"lymphadenopathy",
    r"adenopathy",
    r"bronchiectasis",
    r"sternotomy",
    r"postsurgical|post-surgical|postoperative|post-operative",
    r"surgical changes?",
    r"cholecystectomy",
    r"mastectomy",
    r"pneumoperitoneum",
    r"free (?:air|gas)",
    r"osteopenia",
    r"osteoporo(?:sis|tic)",
    r"arthritis|arthritic|arthropathy",
    r"pectus",
    r"azygos",
    r"nipple shadows?",
    r"lucenc(?:y|ies)",
    r"hyperlucen(?:t|cy)",
    r"bullae|bullous|blebs?",
    r"cysts?|cystic",
    r"pericardial effusion",
    r"aneurysm(?:al)?",
    r"dilated|dilatation|dilation",
    r"hypertension",
    r"thickening",
    r"chronic (?:changes?|lung disease|obstructive)",
    r"sclero(?:sis|tic)",
    r"epicardial fat",
    r"abnormalit(?:y|ies)",
)


@dataclass(frozen=True)
class Mention:
    """One phrase of the lexicon found in a sentence.

    Attributes:
        label: a CheXpert observation name, or :data:`OTHER`.
        start: offset of the phrase in the searched text.
        end: offset just past the phrase.
        text: the phrase as found.
    """

    label: str
    start: int
    end: int
    text: str


def _compile(phrases: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(ordered) + r")(?![\w])")


_PATTERNS: dict[str, re.Pattern[str]] = {label: _compile(p) for label, p in LEXICON.items()}
_PATTERNS[OTHER] = _compile(OTHER_ABNORMALITIES)


def find_mentions(sentence: str, labels: Iterable[str] | None = None) -> list[Mention]:
    """Every lexicon phrase in a lower-case sentence.

    Args:
        sentence: lower-case text.
        labels: restrict to these labels (default: all, :data:`OTHER` included).

    Returns:
        Mentions sorted by position; a span matched by two labels is kept for both.
    """
    wanted = _PATTERNS if labels is None else {k: _PATTERNS[k] for k in labels}
    found = [
        Mention(label, m.start(), m.end(), m.group(0))
        for label, pattern in wanted.items()
        for m in pattern.finditer(sentence)
    ]
    return sorted(found, key=lambda m: (m.start, m.label))


def no_finding(assertions: Mapping[str, object], blocking: Iterable[str] | None = None) -> bool:
    """CheXpert's "No Finding" rule extended to incidental abnormalities.

    Args:
        assertions: label to its report-level assertion (True, False or
            "uncertain"); labels absent were not mentioned.
        blocking: labels whose positive or uncertain assertion rules out
            "No Finding" (default: the 13 observations and :data:`OTHER`).

    Returns:
        True when none of the blocking labels is positive or uncertain.

    Example:
        >>> no_finding({"Pneumothorax": False, "Cardiomegaly": "uncertain"})
        False
        >>> no_finding({"Pneumothorax": False})
        True
    """
    names = [*CHEXPERT_LABELS[1:], OTHER] if blocking is None else list(blocking)
    return not any(assertions.get(name) in (True, "uncertain") for name in names)
