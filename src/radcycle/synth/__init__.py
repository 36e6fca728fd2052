"""Synthetic patients.

Chest CT phantoms over time with known lesions, their truth and a FHIR record.
"""
