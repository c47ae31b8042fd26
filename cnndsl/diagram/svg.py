"""The layout as SVG 1.1, written by hand: boxes, text and paths only, no script, no
external font or style, so that any viewer (a browser, an image converter, GitHub's
renderer) shows the same picture, and the same model gives the same bytes."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .layout import LINE, PAD_X, PAD_Y, Box, Layout

#: fill and stroke by the layer's family (the module of cnndsl.layers that defines it)
COLOURS = {
    "core": ("#eceff1", "#607d8b"),
    "conv": ("#e3f2fd", "#1e88e5"),
    "pool": ("#e8f5e9", "#43a047"),
    "norm": ("#fff8e1", "#f9a825"),
    "activation": ("#fce4ec", "#d81b60"),
    "merge": ("#f3e5f5", "#8e24aa"),
    "resize": ("#e0f7fa", "#00897b"),
    "block": ("#ede7f6", "#5e35b1"),
}
OTHER = ("#f5f5f5", "#757575")
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def num(v: float) -> str:
    """A coordinate: one decimal at most, no trailing zero (stable bytes)."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def to_svg(lay: Layout, title: str) -> str:
    w, h = num(lay.width), num(lay.height)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family={quoteattr(FONT)} font-size="12">',
        f"<title>{escape(title)}</title>",
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#546e7a"/></marker>',
        "</defs>",
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
        '<g class="edges" fill="none" stroke="#546e7a" stroke-width="1.4">',
    ]
    for src, dst, pts in lay.edges:
        d = " ".join(f"{'M' if i == 0 else 'L'}{num(x)},{num(y)}" for i, (x, y) in enumerate(pts))
        out.append(
            f'<path class="edge" data-from="{src}" data-to="{dst}" d="{d}" '
            'marker-end="url(#arrow)"/>'
        )
    out.append("</g>")
    out.append('<g class="nodes">')
    for b in lay.boxes:
        out += _box(b)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _box(b: Box) -> list[str]:
    fill, stroke = COLOURS.get(b.unit.family, OTHER)
    x, y = b.x, b.y
    lines = [
        f'<g class="node" id="{b.unit.id}">',
        f"<title>{escape(' | '.join(b.lines))}</title>",
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(b.width)}" height="{num(b.height)}" '
        f'rx="5" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>',
    ]
    for i, text in enumerate(b.lines):
        weight = ' font-weight="bold"' if i == 0 else ""
        colour = "#263238" if i < 2 else "#546e7a"
        baseline = y + PAD_Y + LINE * (i + 1) - 3
        lines.append(
            f'<text x="{num(x + PAD_X)}" y="{num(baseline)}" fill="{colour}"{weight}>'
            f"{escape(text)}</text>"
        )
    lines.append("</g>")
    return lines
