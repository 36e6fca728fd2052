"""Federated training of radcycle's learned models (Flower): sites, clients, server.

Only the command line imports this package; it builds on :mod:`radcycle.models`
and the layers below it.
"""
