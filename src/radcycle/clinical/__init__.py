"""FHIR ingest into a patient timeline; report text mining (negation, sizes, sites).

No file I/O beyond parsing given text.
"""
