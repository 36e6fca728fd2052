"""Pure functions: RECIST 1.1, Lung-RADS v2022, Fleischner 2017, TNM 8 T category, Brock.

Imports domain only (and the error hierarchy). No files, no network, no clock: every
date is an input. Modules:

* ``results``: :class:`~radcycle.guidelines.results.GuidelineResult`, what engines return;
* ``recist``, ``recist_response``, ``recist_series``, ``irecist``: RECIST 1.1 and iRECIST;
* ``lungrads``: Lung-RADS v2022; ``fleischner``: Fleischner 2017;
* ``tnm``: TNM 8 lung clinical T; ``brock``: Brock (PanCan) probability.

The rules encoded, with their sources, are listed in ``docs/guidelines.md``.
"""
