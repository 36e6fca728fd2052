"""Pure functions: RECIST 1.1, Lung-RADS v2022, Fleischner 2017, TNM 8 T category, Brock.

Imports domain only.
"""
