"""Exports of an analysis: DICOM SR and SEG, FHIR R4, HTML and PDF.

One function per export, each taking domain objects and plain paths:

* :func:`~radcycle.reporting.export.seg.write_seg`: DICOM SEG of one time point.
* :func:`~radcycle.reporting.export.sr.write_sr`: DICOM SR TID 1500 of one time point.
* :func:`~radcycle.reporting.export.fhir.build_fhir_bundle` and
  :func:`~radcycle.reporting.export.fhir.write_fhir`: FHIR R4 Bundle.
* :func:`~radcycle.reporting.export.keyimage.key_image_png`: a lesion's key image.
* :func:`~radcycle.reporting.export.html.render_html` and
  :func:`~radcycle.reporting.export.pdf.render_pdf`: the rendered report.

Every output says :data:`~radcycle.reporting.export.codes.DRAFT_NOTICE`; none is
written over an existing file without ``force``, nor left half-written.
"""
