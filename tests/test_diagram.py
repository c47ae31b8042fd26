"""`cnndsl diagram`: valid SVG with every layer, boxes that never overlap, edges that go
around boxes, the same bytes every time; Mermaid and DOT that their tools would read."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.diagram import diagram, units
from conftest import EXAMPLES, ROOT

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.cnn"))


def boxes(svg: str) -> dict[str, tuple[float, float, float, float, str]]:
    """id -> (x, y, width, height, every text of the box)."""
    root = ET.fromstring(svg)
    found = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        r = g.find(f"{SVG}rect")
        assert r is not None
        texts = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
        found[g.get("id", "")] = (
            *(float(r.get(k, "")) for k in ("x", "y", "width", "height")),
            texts,
        )
    return found


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    ax, ay, aw, ah = a[:4]
    bx, by, bw, bh = b[:4]
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_svg_of_every_example(path: Path) -> None:
    model = cnndsl.load(path)
    svg = diagram(model, "svg")
    assert svg == diagram(cnndsl.load(path), "svg")  # deterministic bytes
    found = boxes(svg)  # parses as XML
    assert len(found) == len(model.nodes)
    texts = " ".join(t for *_, t in found.values())
    for node in model.nodes:
        assert node.name in texts and cnndsl.layers.fmt_shape(node.shape) in texts
    rects = sorted(found.values())
    for i, a in enumerate(rects):  # sorted by x: only neighbours in x can overlap
        for b in rects[i + 1 :]:
            if b[0] >= a[0] + a[2]:
                break
            assert not overlap(a, b), (a[4], b[4])
    root = ET.fromstring(svg)
    assert float(root.get("width", "0")) >= max(x + w for x, _, w, *_ in rects)


def _segments_miss_boxes(svg: str) -> None:
    """Every vertical run of an edge (the waypoints through a row) stays out of boxes."""
    root = ET.fromstring(svg)
    rects = list(boxes(svg).values())
    for p in root.iter(f"{SVG}path"):
        if p.get("class") != "edge":
            continue
        pts = [
            (float(x), float(y)) for x, y in re.findall(r"[ML]([-\d.]+),([-\d.]+)", p.get("d", ""))
        ]
        for (x0, y0), (x1, y1) in itertools.pairwise(pts[1:-1]):
            if x0 == x1:  # a lane through a row
                for x, y, w, h, _ in rects:
                    assert not (x < x0 < x + w and y0 < y + h and y < y1), p.get("d")


@pytest.mark.parametrize("name", ["resnet18", "unet_small", "googlenet", "densenet121"])
def test_skip_edges_run_beside_the_boxes(name: str) -> None:
    _segments_miss_boxes(diagram(cnndsl.load(EXAMPLES / f"{name}.cnn"), "svg"))


def test_residual_skip_has_waypoints() -> None:
    model = cnndsl.parse("input 8x8x4\nresidual { conv 4 3x3 same; batchnorm; relu }\n")
    root = ET.fromstring(diagram(model, "svg"))
    paths = [p.get("d", "") for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    assert max(p.count("L") for p in paths) >= 5  # the identity crosses three rows


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_text_formats(fmt: str) -> None:
    model = cnndsl.load(EXAMPLES / "googlenet.cnn")
    text = diagram(model, fmt)
    ids = {u.id for u in units(model)}
    arrow = "-->" if fmt == "mermaid" else "->"
    edge_re = rf"^  (n\d+) {re.escape(arrow)} (n\d+)" + (";$" if fmt == "dot" else "$")
    edges = [re.match(edge_re, line) for line in text.splitlines()]
    found = [(m.group(1), m.group(2)) for m in edges if m]
    assert len(found) == sum(len(n.inputs) for n in model.nodes)
    assert {a for a, _ in found} | {b for _, b in found} <= ids
    if fmt == "mermaid":
        assert text.splitlines()[3] == "flowchart TD"
        assert all(line.count('"') == 2 for line in text.splitlines() if '["' in line)
    else:
        assert text.startswith('digraph "googlenet" {') and text.rstrip().endswith("}")
        assert text.count("{") == text.count("}")
        for line in text.splitlines()[1:-1]:
            assert line.endswith(";"), line
            assert line.count('"') % 2 == 0 and '\\"' not in line.replace("\\\\", "")


def test_folding_groups_consecutive_scopes() -> None:
    """--depth folds by a scope key: here a stand-in key (each layer's source line), so
    the machinery is tested before the IR records blocks (cnndsl.diagram.units.scope_path)."""
    model = cnndsl.load(EXAMPLES / "resnet18.cnn")

    def key(node: cnndsl.Node) -> tuple[str, ...]:
        return (f"line#{node.span.line}",) if node.kind != "input" else ()

    flat = units(model, 0, key)
    folded = units(model, 1, key)
    assert len(flat) == len(model.nodes)
    assert len(folded) < len(flat)
    assert sum(u.params for u in folded) == model.total_params
    svg = diagram(model, "svg", 1, key)
    assert len(boxes(svg)) == len(folded)


SKIPS = "input 8x8x8\nconv 8 3x3 same name=c0\n" + "conv 8 1x1; add c0\n" * 3


def test_waypoints_are_counted_by_hand_and_bounded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Rows: input 0, c0 1, then conv 2, add_1 3, conv 4, add_2 5, conv 6, add_3 7; the
    edges from c0 skip rows 2; 2-4; 2-6: 1 + 3 + 5 = 9 waypoints, add_3's the longest."""
    import importlib

    import cnndsl.diagram as d

    layout = importlib.import_module("cnndsl.diagram.layout")  # the name is also a function

    model = cnndsl.parse(SKIPS, "skips.cnn")
    boxes = units(model)
    total, (src, dst, rows) = layout.bends(boxes)  # type: ignore[misc]
    assert (total, src.name, dst.name, rows) == (9, "c0", "add_3", 5)
    items, _ = layout._items(boxes)
    assert sum(it.unit is None for it in items.values()) == 9  # what the layout makes
    monkeypatch.setattr(d, "MAX_BENDS", 9)
    assert "<svg" in diagram(model, "svg")
    monkeypatch.setattr(d, "MAX_BENDS", 8)
    with pytest.raises(cnndsl.CnnDslError) as err:
        diagram(model, "svg")
    (diag,) = err.value.diagnostics
    assert diag.span is not None and (diag.span.line, diag.span.column) == (5, 13)
    assert "9 waypoints" in diag.message and "c0 -> add_3 alone skips 5 rows" in diag.message
    assert diagram(model, "mermaid") and diagram(model, "dot")  # no layout: no limit
    f = tmp_path / "skips.cnn"
    f.write_text(SKIPS)
    assert main(["diagram", str(f), "-o", str(tmp_path / "s.svg")]) == 1
    err_text = capsys.readouterr().err
    assert f"{f}:5:13: error: the SVG diagram would need 9 waypoints" in err_text
    assert " 5 | conv 8 1x1; add c0" in err_text and "--format mermaid" in err_text
    assert not (tmp_path / "s.svg").exists()
    # folded (--depth 1), the box of stage g2 is the edge's target: the error points into it
    staged = "input 8x8x8\nconv 8 3x3 same name=c0\n" + "".join(
        f"stage g{i} {{ conv 8 1x1; add c0 }}\n" for i in range(3)
    )
    folded = cnndsl.parse(staged, "staged.cnn")
    monkeypatch.setattr(d, "MAX_BENDS", 1)
    with pytest.raises(cnndsl.CnnDslError) as err:
        diagram(folded, "svg", 1)
    (diag,) = err.value.diagnostics
    assert "c0 -> g2 alone skips 2 rows" in diag.message  # c0, g0, g1, g2: rows 1 to 4
    assert diag.span is not None and (diag.span.line, diag.span.column) == (5, 12)


def test_cli_writes_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.svg"
    assert main(["diagram", str(EXAMPLES / "lenet5.cnn"), "-o", str(out)]) == 0
    assert ET.parse(out).getroot().tag == f"{SVG}svg"
    assert main(["diagram", str(EXAMPLES / "lenet5.cnn"), "--format", "mermaid"]) == 0
    assert "flowchart TD" in capsys.readouterr().out
    assert main(["diagram", str(tmp_path / "missing.cnn")]) == 1


def _not_blank(png: Path) -> None:
    from PIL import Image

    img = Image.open(png).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 100  # ink on paper
    dark = sum(img.histogram()[:200])
    assert dark > 0.005 * img.size[0] * img.size[1]


def test_render_with_pillow(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    svg, png = tmp_path / "m.svg", tmp_path / "m.png"
    svg.write_text(diagram(cnndsl.load(EXAMPLES / "unet_small.cnn"), "svg"))
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render_svg.py"), str(svg), str(png), "--pillow"],
        check=True,
    )
    _not_blank(png)


@pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser")),
    reason="Debian's chromium is not installed",
)
def test_render_with_chromium(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    svg, png = tmp_path / "m.svg", tmp_path / "m.png"
    svg.write_text(diagram(cnndsl.load(EXAMPLES / "resnet18.cnn"), "svg"))
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render_svg.py"), str(svg), str(png)], check=True
    )
    _not_blank(png)


def test_readme_diagram_is_current() -> None:
    """docs/img/unet_small.svg is what `cnndsl diagram` draws today; to refresh it:
    cnndsl diagram examples/unet_small.cnn -o docs/img/unet_small.svg"""
    drawn = diagram(cnndsl.load(EXAMPLES / "unet_small.cnn"), "svg")
    assert (ROOT / "docs" / "img" / "unet_small.svg").read_text("utf-8") == drawn
    assert "docs/img/unet_small.svg" in (ROOT / "README.md").read_text("utf-8")
