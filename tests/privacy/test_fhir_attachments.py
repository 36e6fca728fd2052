"""FHIR attachments cleaned or dropped, outputs named from the pseudonym."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.privacy.check import check_tree
from radcycle.privacy.fhir_deid import REMOVED_ATTACHMENT_URL, deidentify_bundle
from radcycle.privacy.keys import DeidKey, load_keyfile
from radcycle.privacy.profile import DeidOptions

from .planting import present
from .test_fhir_deid import _bundle as fhir_bundle

SECRETS = (
    "Quarrington",
    "Philomena",
    "MRN-884422",
    "1961-03-17",
    "17/03/1961",
    "7946 0958",
    "2023-03-14",
    "14/03/2023",
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _bundle() -> dict[str, Any]:
    patient = fhir_bundle()["entry"][0]["resource"]  # name, MRN, phone, birth date
    note = "Philomena QUARRINGTON (MRN-884422), born 17/03/1961, tel 020 7946 0958"
    document = {
        "resourceType": "DocumentReference",
        "id": "d1",
        "subject": {"reference": "Patient/p1"},
        "content": [
            {"attachment": {"contentType": "text/plain; charset=utf-8", "data": _b64(note)}}
        ],
    }
    html = f"<html><body><p>{note}</p></body></html>"
    report = {
        "resourceType": "DiagnosticReport",
        "id": "r1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "presentedForm": [
            {"contentType": "text/html", "data": _b64(html), "title": "Quarrington report"},
            {"contentType": "application/pdf", "data": _b64("%PDF Quarrington"), "size": 16},
        ],
    }
    binary = {
        "resourceType": "Binary",
        "id": "b1",
        "contentType": "application/json",
        "data": _b64(json.dumps({"patient": "Quarrington, Philomena"})),
    }
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "subject": {"reference": "Patient/p1"},
        "valueAttachment": {"contentType": "image/png", "data": _b64("PNG Quarrington")},
        "effectiveDateTime": "2023-03-14T10:15:30Z",
        "note": [{"text": "seen 2023-03-14 and again 14/03/2023"}],
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (patient, document, report, binary, observation)],
    }


def _decoded(node: Any) -> str:
    """Every string of ``node``, base64 attachment data decoded."""
    if isinstance(node, dict):
        parts = [_decoded(v) for k, v in node.items() if k != "data"]
        if isinstance(node.get("data"), str):
            parts.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
        return "\n".join(parts)
    if isinstance(node, list):
        return "\n".join(_decoded(v) for v in node)
    return str(node)


def test_text_attachments_cleaned_binary_dropped_with_a_note(key: DeidKey) -> None:
    out = deidentify_bundle(_bundle(), key, DeidOptions(dates="modified"))
    text = _decoded(out)
    for secret in SECRETS:
        assert not present(secret, text), secret
    report = out["entry"][2]["resource"]
    html = base64.b64decode(report["presentedForm"][0]["data"]).decode()
    assert html.startswith("<html><body><p>*********")
    assert report["presentedForm"][0]["size"] == len(html.encode())
    pdf = report["presentedForm"][1]
    assert "data" not in pdf
    assert "size" not in pdf
    assert pdf["extension"][0]["url"] == REMOVED_ATTACHMENT_URL
    assert "application/pdf" in pdf["extension"][0]["valueString"]
    assert "data" not in out["entry"][4]["resource"]["valueAttachment"]
    binary = json.loads(base64.b64decode(out["entry"][3]["resource"]["data"]))
    assert binary == {"patient": "*" * len("Quarrington, Philomena")}


def test_cli_names_output_from_pseudonym_and_checker_agrees(tmp_path: Path) -> None:
    app, runner = build_app(), CliRunner()
    keyfile = tmp_path / "k"
    runner.invoke(app, ["deid-keygen", "--out", str(keyfile)])
    src = tmp_path / "in"
    src.mkdir()
    (src / "Quarrington_MRN-884422.json").write_text(json.dumps(_bundle()), encoding="utf-8")
    before = check_tree(src, src)
    assert {"Quarrington", "MRN-884422"} <= {leak.detail for leak in before.leaks}
    out = tmp_path / "out"
    out.mkdir()
    args = [
        "deid",
        str(src / "Quarrington_MRN-884422.json"),
        "--out",
        str(out),
        "--key",
        str(keyfile),
    ]
    result = runner.invoke(app, [*args, "--dates", "modified"])
    assert result.exit_code == 0, result.output
    pseudonym = load_keyfile(keyfile).patient_id("MRN-884422")
    assert [p.name for p in out.iterdir()] == [f"{pseudonym}.json"]
    after = check_tree(out, src)
    assert after.leaks == []
    assert after.clean
    assert after.checked["fhir"] == [f"{pseudonym}.json"]
    kinds = {leak.kind for leak in check_tree(src).leaks}
    assert {"fhir-personal", "fhir-attachment"} <= kinds
