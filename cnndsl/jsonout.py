"""JSON as every parser reads it: ``json.dumps`` writes ``NaN`` and ``Infinity`` by default,
which are not JSON, and a strict reader (``jq``, JavaScript, Go) rejects the whole document.

A non-finite number is written as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``
(docs/json.md): a reader that expects a number fails on that value alone, and the
information is kept. ``float()`` in Python reads the three strings back.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: how a non-finite float is written
NONFINITE = ("NaN", "Infinity", "-Infinity")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return NONFINITE[0] if math.isnan(value) else NONFINITE[1 if value > 0 else 2]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def strict_json(doc: Any, indent: int | None = 2) -> str:
    """``json.dumps(doc, allow_nan=False)``, non-finite numbers spelled as strings; the
    document is walked only when it holds one."""
    try:
        return json.dumps(doc, indent=indent, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(doc), indent=indent, allow_nan=False)
