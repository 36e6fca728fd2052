"""Reporting: facts to draft; LLM backends; the verifier.

Renderers and exporters (HTML, PDF, DICOM SR and SEG, FHIR).
"""
