"""Synthetic patients: chest CT phantoms over time with known lesions, truth and FHIR.

:func:`generate_patient` builds a patient in memory (pure, deterministic for a
seed); :func:`write_patient` writes it::

    OUT/truth.json          what is in the images (below)
    OUT/fhir_bundle.json    FHIR R4 Bundle (collection): Patient, Condition, Procedure,
                            smoking status, CEA over time, treatment, ImagingStudy per scan
    OUT/tp0_YYYYMMDD/*.dcm  one CT series per time point; file names do not encode order

The images (HU, non-contrast chest CT): skin, subcutaneous fat (about -100), chest
wall muscle, ribs and sternum, thoracic vertebrae with discs and spinal canal,
lungs (about -860, denser posteriorly) with interlobar fissures and branching
vessels and bronchi that taper to about 1 mm, trachea and main bronchi,
mediastinal fat with the heart, aorta, superior vena cava, pulmonary arteries and
oesophagus, the liver under the right dome, and the scanner table (fixed to the
scanner, under the patient's back). Noise is Gaussian, 10-18 HU, correlated by the
same light in-plane blur as the image. Each scan sees the patient after a known
rigid repositioning (rotation of 1.5-4 degrees about z, 6-18 mm translation). The
default grid is 512x512 at 0.75 mm; slices cover 300 mm of chest at 1 to 5 mm.

Coordinates are DICOM patient coordinates (LPS, mm) of the scan concerned.
``truth.json`` has this shape (extra keys may be added; these stay)::

    {"seed": int,
     "patient": {"patient_id", "name", "birth_date": "YYYY-MM-DD", "sex": "M"|"F"},
     "treatment": "carboplatin-pemetrexed" | "pembrolizumab",
     "smoking": "former" | "current",
     "emphysema": bool (centrilobular emphysema in the upper lungs, as in the images),
     "noise_hu": float,
     "timepoints": [{
        "index": 0, "date": "YYYY-MM-DD", "folder": "tp0_YYYYMMDD",
        "study_instance_uid", "series_instance_uid", "frame_of_reference_uid",
        "accession_number",
        "baseline_to_scan": 4x4 (rigid; maps a point in the baseline scan's patient
                            coordinates to this scan's; identity at index 0),
        "geometry": {"origin": [x, y, z], "spacing": [di, dj, dk], "shape_ijk": [i, j, k]},
        "landmarks": {"carina": [x, y, z], "spine_centre_at_carina": [x, y, z]},
        "lesions": [{
            "lesion_id": "L1" (stable across time points),
            "type": "solid" | "part-solid" | "ground-glass" | "lymph-node" | "liver",
            "organ": "lung" | "lymph node" | "liver",
            "side": "left" | "right" | null, "zone": "upper" | "middle" | "lower" | null,
            "centre_mm": [x, y, z] (this scan),
            "long_axis_mm", "short_axis_mm" (RECIST: longest axial diameter and the
                longest diameter perpendicular to it in that plane),
            "max_3d_diameter_mm", "volume_mm3",
            "solid_component_mm" (part-solid only, else null),
            "status": "present" | "new" | "vanished",
            "juxtapleural": bool (abuts the chest wall: within 3 mm of the pleura),
            "perifissural": bool (a lung lesion that a fissure runs through or
                within 1.5 mm of, at this time point),
            "lobe": "RUL" | "RML" | "RLL" | "LUL" | "LLL" | null (by the rendered
                fissures: the oblique fissure on both sides, the horizontal on the right),
            "long_axis_direction": [x, y, 0] (unit vector of the long axis; the
                short axis is perpendicular to it in the axial plane, the third
                axis is along z)}]}]}

A lesion is listed from the time point it appears ("new" there, "present" after);
once gone it stays listed as "vanished" with zero sizes. Sizes are those of the
rendered ellipsoid (axes along z and rotated about z; solid nodules add a
zero-mean lobulation of 3 % of the radius). The story: treatment starts after
the baseline, responding lesions shrink at the first follow-up, then progress;
one small nodule vanishes, one new nodule (and possibly a liver metastasis)
appears at the third scan (the second where there are only two).
"""

from radcycle.synth.dicom_writer import CTSeriesHeader, write_ct_series
from radcycle.synth.fhir import build_bundle
from radcycle.synth.patient import SyntheticPatient, SyntheticTimepoint, generate_patient
from radcycle.synth.writer import write_patient

__all__ = [
    "CTSeriesHeader",
    "SyntheticPatient",
    "SyntheticTimepoint",
    "build_bundle",
    "generate_patient",
    "write_ct_series",
    "write_patient",
]
