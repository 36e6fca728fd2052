"""radcycle: full-cycle, verified AI assistance for medical imaging.

Reads a patient's studies and record, finds and measures lesions, follows them
over time, and drafts a report in which every statement is tied to a measured
fact. See ``src/radcycle/README.md`` for the map of sub-packages.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
