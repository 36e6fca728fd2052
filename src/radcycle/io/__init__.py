"""Reading and writing files: DICOM series, RTSTRUCT, SEG, NIfTI, NRRD.

Imports domain only. The main entry points are :func:`read_image` (any image to a
Volume) and :func:`radcycle.io.dicom.scan.scan_folder` (a folder tree to
patients -> studies -> series, with an outcome per file).
"""

from radcycle.io.images import read_image, write_image

__all__ = ["read_image", "write_image"]
