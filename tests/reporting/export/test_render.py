"""Key images, HTML and PDF: self-contained, escaped, every sentence linked to its evidence."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from radcycle.errors import DataFormatError, ExportError
from radcycle.imaging.masks import array_spacing
from radcycle.imaging.measurement import axial_axes, axial_axis_ends, recist_slice
from radcycle.reporting.export.codes import DRAFT_NOTICE
from radcycle.reporting.export.html import build_html, render_html
from radcycle.reporting.export.keyimage import KeyImage, key_image_for
from radcycle.reporting.export.pdf import render_pdf
from tests.reporting.export.conftest import HOSTILE, Patient, build_report


@pytest.fixture(scope="module")
def key_images(patient: Patient) -> dict[str, KeyImage]:
    tp = patient.timepoints[1]
    return {
        les.tracking_uid: key_image_for(les, tp.volume, tp.masks[les.tracking_uid], tp.label)
        for les in patient.lesions
        if les.tracking_uid in tp.masks
    }


@pytest.fixture(scope="module")
def charts(key_images: dict[str, KeyImage]) -> dict[str, bytes]:
    # any PNG stands for a chart here; the charts themselves are tested in longitudinal
    return {"Lesion trajectories": next(iter(key_images.values())).png}


def test_key_image_shows_the_outline_on_the_recist_slice(
    patient: Patient, key_images: dict[str, KeyImage]
) -> None:
    tp = patient.timepoints[1]
    for uid, key in key_images.items():
        pixels = imread(io.BytesIO(key.png))
        assert pixels.ndim == 3
        assert pixels.shape[0] > 100
        outline = (pixels[..., 0] > 0.9) & (pixels[..., 1] > 0.7) & (pixels[..., 2] < 0.2)
        assert outline.sum() > 20, uid
        assert key.slice_index == recist_slice(tp.masks[uid], array_spacing(tp.volume))
        les = next(x for x in patient.lesions if x.tracking_uid == uid)
        (long_axis,) = [m.value for m in les.at(tp.label) if m.name.value == "long_axis"]
        assert key.caption.startswith(f"{les.tracking_identifier} {les.laterality} {les.lobe}, ")
        assert f"{long_axis:.1f} x " in key.caption


def test_drawn_axes_have_the_measured_lengths(patient: Patient) -> None:
    tp = patient.timepoints[1]
    dk, dj, di = array_spacing(tp.volume)
    for mask in tp.masks.values():
        plane = mask[recist_slice(mask, (dk, dj, di))]
        long_mm, short_mm, _, _ = axial_axes(plane, (dj, di))
        (a, b), (c, d) = axial_axis_ends(plane, (dj, di))
        scale = np.array([dj, di])
        assert np.linalg.norm((b - a) * scale) == pytest.approx(long_mm, abs=1e-6)
        assert np.linalg.norm((d - c) * scale) == pytest.approx(short_mm, abs=1e-6)
        assert (
            abs(float(np.dot((b - a) * scale, (d - c) * scale))) < 1e-6 * long_mm * short_mm + 1e-9
        )


def _embedded(text: str) -> dict[str, dict[str, list[str]]]:
    found = re.search(
        r'<script type="application/json" id="evidence-data">(.*?)</script>', text, re.S
    )
    assert found is not None
    data: dict[str, dict[str, list[str]]] = json.loads(found.group(1))
    return data


def test_a_signed_report_shows_its_signature_not_the_draft_notice(patient: Patient) -> None:
    signed = {**build_report(patient), "status": "final - signed by dr at 2026-12-07T10:00:00"}
    text = build_html(signed)
    assert DRAFT_NOTICE not in text
    assert text.count("final - signed by dr at 2026-12-07T10:00:00") >= 2
    # A status that only looks final is not a signature.
    forged = {**build_report(patient), "status": "final"}
    assert build_html(forged).count(DRAFT_NOTICE) >= 2


def test_html_links_every_sentence_to_facts_and_key_images(
    patient: Patient, key_images: dict[str, KeyImage], charts: dict[str, bytes]
) -> None:
    text = build_html(build_report(patient), key_images=key_images, charts=charts)
    data = _embedded(text)
    assert set(data) == {"s1", "s2", "s3"}
    for sid in data:
        assert f'href="#ev-{sid}"' in text
        assert f'id="ev-{sid}"' in text
    first = patient.lesions[0]
    assert data["s1"]["images"] == [first.tracking_uid]
    assert f'id="key-{first.tracking_uid}"' in text
    assert any("long axis" in line and "mm" in line for line in data["s1"]["facts"])
    assert any("RECIST 1.1 section 4.3.1" in line for line in data["s2"]["facts"])
    assert data["s3"]["facts"] == []


def test_html_is_self_contained_escaped_and_says_draft(
    patient: Patient, key_images: dict[str, KeyImage]
) -> None:
    text = build_html(build_report(patient), key_images=key_images)
    assert text.count(DRAFT_NOTICE) >= 2
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in text
    assert "\\u003cscript>alert" in text  # the JSON copy for the script, '<' escaped
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert 'src="data:image/png;base64,' in text
    assert "PR" in text
    assert "warning: the drafting model was not reached" in text
    assert "L1 long axis" in text


def test_malformed_report_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError):
        build_html({"sections": [{"title": "no name"}]})
    with pytest.raises(DataFormatError):
        render_pdf(
            {"sections": [{"name": "x", "sentences": [{"text": "no id"}]}]}, tmp_path / "r.pdf"
        )
    assert list(tmp_path.iterdir()) == []


def test_render_html_keeps_an_existing_file(patient: Patient, tmp_path: Path) -> None:
    path = render_html(build_report(patient), tmp_path / "report.html")
    with pytest.raises(ExportError, match="exists"):
        render_html(build_report(patient), path)
    render_html(build_report(patient), path, force=True)


def test_pdf_says_draft_on_every_page_and_links_sentences(
    patient: Patient, key_images: dict[str, KeyImage], charts: dict[str, bytes], tmp_path: Path
) -> None:
    path = render_pdf(
        build_report(patient), tmp_path / "report.pdf", key_images=key_images, charts=charts
    )
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.count(b"/Link") >= 3  # one internal link per sentence
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext is absent (Debian poppler-utils)")
    text = subprocess.run(
        [exe, "-layout", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) >= 2
    assert all(DRAFT_NOTICE in p for p in pages)
    assert HOSTILE in text.replace("\n", " ")
    assert "Evidence" in text
    assert "RECIST 1.1 section 4.3.1" in text


def test_html_script_parses(patient: Patient, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is absent: the script's syntax is not checked")
    text = build_html(build_report(patient))
    (script,) = re.findall(r"<script>(.*?)</script>", text, re.S)
    path = tmp_path / "report.js"
    path.write_text(script, encoding="utf-8")
    run = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


# A minimal DOM for the report's script: enough to click a sentence and read the panel.
_HARNESS = r"""
const fs = require('fs');
const [script, data, ids, keys] = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
class El {
  constructor(tag) { this.tag = tag; this.children = []; this.hidden = true;
    this.textContent = ''; this.listeners = {}; this.dataset = {}; this.attrs = {}; }
  append(...c) { this.children.push(...c); }
  replaceChildren() { this.children = []; }
  addEventListener(type, f) { this.listeners[type] = f; }
  cloneNode() { const c = new El(this.tag); c.attrs = { ...this.attrs }; return c; }
  removeAttribute(name) { delete this.attrs[name]; }
}
const body = new El('div'), button = new El('button'), panel = new El('aside');
panel.querySelector = (sel) => (sel === '.body' ? body : button);
const byId = { 'evidence-data': Object.assign(new El('script'), { textContent: data }), panel };
for (const k of keys) byId['key-' + k] = Object.assign(new El('figure'), { attrs: { id: k } });
const anchors = ids.map((id) => Object.assign(new El('a'), { dataset: { id } }));
global.document = { getElementById: (id) => byId[id] || null,
  querySelectorAll: () => anchors, createElement: (tag) => new El(tag) };
eval(script);
anchors[0].listeners.click({ preventDefault() {} });
const texts = [];
const walk = (e) => { if (e.textContent) texts.push(e.textContent); e.children.forEach(walk); };
walk(body);
console.log(JSON.stringify({ hidden: panel.hidden, texts,
  figures: body.children.filter((c) => c.tag === 'figure').length }));
"""


def test_a_click_on_a_sentence_shows_its_facts_and_key_image(
    patient: Patient, key_images: dict[str, KeyImage], tmp_path: Path
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is absent: the script is not run")
    text = build_html(build_report(patient), key_images=key_images)
    (script,) = re.findall(r"<script>(.*?)</script>", text, re.S)
    data = re.search(r'id="evidence-data">(.*?)</script>', text, re.S)
    assert data is not None
    args = tmp_path / "args.json"
    args.write_text(json.dumps([script, data.group(1), ["s1"], list(key_images)]))
    harness = tmp_path / "harness.js"
    harness.write_text(_HARNESS)
    run = subprocess.run(
        [node, str(harness), str(args)], capture_output=True, text=True, timeout=60, check=True
    )
    shown = json.loads(run.stdout)
    assert shown["hidden"] is False
    assert shown["figures"] == 1  # the key image of the lesion the sentence is about
    assert any("long axis" in t and "mm" in t for t in shown["texts"])


def test_a_section_without_sentences_is_not_shown() -> None:
    text = build_html(
        {
            "sections": [
                {"name": "comparison", "title": "Comparison", "sentences": []},
                {"name": "impression", "sentences": [{"id": "s1", "text": "No nodule."}]},
            ]
        }
    )
    assert "<h2>Comparison</h2>" not in text
    assert "<h2>Impression</h2>" in text
