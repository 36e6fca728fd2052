"""De-identification of DICOM and FHIR (PS3.15 Annex E).

Keyed pseudonyms, consistent UID remapping, date shifting, and the leak checker.
"""
