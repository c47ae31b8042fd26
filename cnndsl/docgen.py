"""The option tables of docs/language.md, generated from the registry so they never drift.

    python -m cnndsl.docgen          # print the reference
    python -m cnndsl.docgen --write  # refresh it in docs/language.md

A test fails when docs/language.md holds a reference other than this one.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from .layers import REGISTRY, Layer, kinds
from .options import Tensor

BEGIN = "<!-- BEGIN GENERATED REFERENCE (python -m cnndsl.docgen --write) -->"
END = "<!-- END GENERATED REFERENCE -->"


def _default(value: Any, required: bool) -> str:
    if required:
        return "required"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    if isinstance(value, float) and not math.isinf(value):
        return f"{value:g}"
    if isinstance(value, Tensor):  # pragma: no cover - no tensor defaults today
        return "literal"
    return str(value)


def _keywords(cls: type[Layer]) -> list[str]:
    return [kw for kw, e in REGISTRY.items() if e.cls is cls]


def reference() -> str:
    out = [BEGIN, ""]
    for cls in kinds():
        kws = _keywords(cls)
        title = " · ".join(f"`{k}`" for k in kws)
        summary = cls.SUMMARY[0].upper() + cls.SUMMARY[1:]
        out += [f"### {title}", "", f"{summary}. Example: `{cls.EXAMPLE}`", ""]
        specs = cls.options()
        if specs:
            out += [
                "| option | positional | type | default | meaning |",
                "|---|---|---|---|---|",
            ]
            for s in specs.values():
                pos = "yes" if s.positional else ""
                what = s.type.describe().replace("|", "\\|")
                out.append(
                    f"| `{s.name}` | {pos} | {what} | {_default(s.default, s.required)} | {s.doc} |"
                )
            out.append("")
        else:
            out += ["No options.", ""]
    out.append(END)
    return "\n".join(out)


def splice(doc: str) -> str:
    """``doc`` with its generated block replaced by the current reference."""
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    return doc[:start] + reference() + doc[end:]


def main(argv: list[str]) -> int:
    if "--write" in argv:
        path = Path(__file__).resolve().parent.parent / "docs" / "language.md"
        path.write_text(splice(path.read_text("utf-8")), "utf-8")
        print(f"wrote {path}")
    else:
        print(reference())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
