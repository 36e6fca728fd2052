"""The report as one self-contained HTML file: every sentence linked to its evidence.

Nothing is fetched: the style, the script and the images (key images, charts, as
``data:`` URIs) are inside the file. Each sentence is a link; a click (or Enter)
opens the evidence panel with the facts it cites, in words with their source, and
the key image of each lesion concerned. Without the script the same link jumps to
that sentence's entry in the Evidence section at the end, so nothing depends on
it. All text from the report (sentences, fact values, ids) is HTML-escaped, and
the facts embedded for the script are JSON with ``<`` escaped.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from radcycle.reporting.export.codes import notice_for
from radcycle.reporting.export.document import (
    ReportView,
    describe_fact,
    read_report,
    response_table,
)
from radcycle.reporting.export.keyimage import KeyImage
from radcycle.reporting.export.output import export

log = logging.getLogger(__name__)

__all__ = ["build_html", "render_html"]

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#222}
.draft{background:#b00020;color:#fff;padding:.4rem .8rem;font-weight:600;border-radius:4px}
h1{font-size:1.4rem}h2{font-size:1.1rem;border-bottom:1px solid #ccc;margin-top:1.6rem}
a.s{color:inherit;text-decoration:none;border-bottom:1px dotted #0b5cad;cursor:pointer}
a.s:hover,a.s:focus{background:#e8f1fb}a.s.unverified{border-bottom-color:#b00020}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ccc;padding:.2rem .5rem}
figure{display:inline-block;margin:.4rem;vertical-align:top}figcaption{font-size:.8rem}
img{max-width:100%}#panel{position:fixed;right:1rem;top:1rem;width:24rem;max-height:90vh;
overflow:auto;background:#fff;border:1px solid #888;box-shadow:0 2px 8px #0004;padding:.8rem}
#panel[hidden]{display:none}.meta{color:#555;font-size:.85rem}li{margin:.2rem 0}
"""

_SCRIPT = """
const data = JSON.parse(document.getElementById('evidence-data').textContent);
const panel = document.getElementById('panel');
function show(id) {
  const ev = data[id]; if (!ev) return;
  const body = panel.querySelector('.body'); body.replaceChildren();
  const quote = document.createElement('p'); quote.textContent = ev.text; body.append(quote);
  const list = document.createElement('ul');
  for (const line of ev.facts) { const li = document.createElement('li'); li.textContent = line;
    list.append(li); }
  if (!ev.facts.length) { const li = document.createElement('li');
    li.textContent = 'no fact cited'; list.append(li); }
  body.append(list);
  for (const uid of ev.images) { const src = document.getElementById('key-' + uid);
    if (src) { const copy = src.cloneNode(true); copy.removeAttribute('id'); body.append(copy); } }
  panel.hidden = false;
}
for (const a of document.querySelectorAll('a.s')) {
  a.addEventListener('click', (e) => { e.preventDefault(); show(a.dataset.id); });
}
panel.querySelector('button').addEventListener('click', () => { panel.hidden = true; });
"""


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _sentences_html(view: ReportView) -> list[str]:
    out = []
    for section in view.sections:
        out.append(f"<h2>{escape(section.title)}</h2>")
        for paragraph in view.paragraphs(section):
            out.append("<p>")
            for s in paragraph:
                cls = "s" if s.verified else "s unverified"
                out.append(
                    f'<a class="{cls}" href="#ev-{escape(s.id)}" data-id="{escape(s.id)}" '
                    f'title="show the evidence">{escape(s.text)}</a> '
                )
            out.append("</p>")
    return out


def _key_images_html(view: ReportView, key_images: Mapping[str, KeyImage]) -> list[str]:
    if not key_images:
        return []
    out = ["<h2>Key images</h2>"]
    for uid, key in key_images.items():
        out.append(
            f'<figure id="key-{escape(uid)}"><img alt="{escape(key.caption)}" '
            f'src="{_data_uri(key.png)}"><figcaption>{escape(key.caption)}</figcaption></figure>'
        )
    return out


def _table_html(view: ReportView) -> list[str]:
    header, rows = response_table(view)
    if not rows:
        return []
    out = ["<h2>Measurements and response</h2><table><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in header]
    out.append("</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return out


def _charts_html(charts: Mapping[str, bytes]) -> list[str]:
    out = ["<h2>Charts</h2>"] if charts else []
    for title, png in charts.items():
        out.append(
            f'<figure><img alt="{escape(title)}" src="{_data_uri(png)}">'
            f"<figcaption>{escape(title)}</figcaption></figure>"
        )
    return out


def _evidence_html(view: ReportView) -> tuple[list[str], dict[str, Any]]:
    out = ["<h2>Evidence</h2><ol class=meta>"]
    data: dict[str, Any] = {}
    for section in view.sections:
        for s in section.sentences:
            lines = [describe_fact(f) for f in view.evidence(s)]
            data[s.id] = {"text": s.text, "facts": lines, "images": view.lesions_of(s)}
            items = (
                "".join(f"<li>{escape(line)}</li>" for line in lines) or "<li>no fact cited</li>"
            )
            out.append(f'<li id="ev-{escape(s.id)}">{escape(s.text)}<ul>{items}</ul></li>')
    out.append("</ol>")
    return out, data


def _rejections_html(view: ReportView) -> list[str]:
    if not view.rejections:
        return []
    out = ["<h2>Drafted sentences rejected by the verifier</h2><ul class=meta>"]
    for r in view.rejections:
        reasons = "; ".join(str(x) for x in r.get("reasons") or ())
        out.append(f"<li>{escape(str(r.get('text', '')))} <em>({escape(reasons)})</em></li>")
    out.append("</ul>")
    return out


def build_html(
    report: Mapping[str, Any],
    *,
    key_images: Mapping[str, KeyImage] | None = None,
    charts: Mapping[str, bytes] | None = None,
) -> str:
    """The HTML text of the report (see :func:`render_html`)."""
    view = read_report(report)
    evidence, data = _evidence_html(view)
    embedded = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    notice = notice_for(view.status)
    banner = escape(notice)
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Report {escape(view.patient_id)} ({banner})</title>",
        f"<style>{_STYLE}</style></head><body>",
        f'<p class="draft">{banner}</p>',
        "<h1>CT report</h1>",
        f'<p class="meta">Patient {escape(view.patient_id)} &middot; generated '
        f"{escape(view.generated)} &middot; writer {escape(view.writer)} &middot; "
        "click a sentence to see its evidence</p>",
        *(f'<p class="meta">warning: {escape(w)}</p>' for w in view.warnings),
        *_sentences_html(view),
        *_table_html(view),
        *_key_images_html(view, key_images or {}),
        *_charts_html(charts or {}),
        *_rejections_html(view),
        *evidence,
        f'<p class="draft">{banner}</p>',
        '<aside id="panel" hidden><button type="button">close</button>'
        '<div class="body"></div></aside>',
        f'<script type="application/json" id="evidence-data">{embedded}</script>',
        f"<script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)


def render_html(
    report: Mapping[str, Any],
    path: str | Path,
    *,
    key_images: Mapping[str, KeyImage] | None = None,
    charts: Mapping[str, bytes] | None = None,
    force: bool = False,
) -> Path:
    """Write the report as one self-contained HTML file.

    Args:
        report: the report.json document.
        path: the ``.html`` file to write (its folder must exist).
        key_images: lesion TrackingUID -> key image (from
            :func:`~radcycle.reporting.export.keyimage.key_image_png`).
        charts: title -> PNG (the trajectory chart and waterfall of
            :mod:`radcycle.longitudinal.plots`).
        force: replace an existing file.

    Raises:
        DataFormatError: report.json is malformed.
        ExportError: the file exists (without ``force``) or cannot be written.
    """
    export(
        path,
        force,
        lambda: build_html(report, key_images=key_images, charts=charts),
        lambda text, tmp: tmp.write_text(text, encoding="utf-8"),
    )
    log.info("wrote HTML report to %s", path)
    return Path(path)
