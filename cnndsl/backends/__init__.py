"""Backends: each keeps one table keyed by layer class (a test fails when one is missing).

``numpy`` interprets a model; code generators for Keras and PyTorch come next.
Importing this package imports no framework.
"""
