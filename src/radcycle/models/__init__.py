"""Trained-model plug-ins.

A protocol, a registry of model specs (name, file, sha256, labels), runners.
"""
