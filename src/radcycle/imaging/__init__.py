"""Array work: resampling, masks, registration, lungs, lesions, measurement, radiomics.

Imports domain only; no file I/O.
"""
