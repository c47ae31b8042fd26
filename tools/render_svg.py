"""Render a `cnndsl diagram` SVG to PNG, to look at it (and to test that it shows something).

    python tools/render_svg.py model.svg model.png             # headless Chromium if installed
    python tools/render_svg.py model.svg model.png --pillow    # never Chromium

With Debian's Chromium (``apt-get install chromium``: /usr/bin/chromium) the SVG is drawn
by a real browser engine, headless: ``chromium --headless --screenshot``. Without it, a
small rasteriser written here with Pillow draws the subset of SVG that cnndsl writes
(rect, path with M/L, text, the arrow marker): enough to see the layout, not a general
SVG renderer. Needs Pillow (``pip install 'cnndsl[viz]'``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
MONO_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"


def chromium() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM) if p), None)


def render_chromium(svg: str, png: str, browser: str) -> None:
    root = ET.parse(svg).getroot()
    w, h = (int(float(root.get(k, "800"))) + 1 for k in ("width", "height"))
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "page.html")
        with open(page, "w", encoding="utf-8") as fh:
            fh.write(
                f'<html><body style="margin:0"><img src="file://{os.path.abspath(svg)}">'
                "</body></html>"
            )
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--screenshot={os.path.abspath(png)}",
                f"--window-size={w},{h}",
                f"file://{page}",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def render_pillow(svg: str, png: str, scale: float = 1.0) -> None:
    from PIL import Image, ImageDraw, ImageFont

    root = ET.parse(svg).getroot()
    w, h = (float(root.get(k, "800")) for k in ("width", "height"))
    img = Image.new("RGB", (int(w * scale) + 1, int(h * scale) + 1), "white")
    draw = ImageDraw.Draw(img)
    size = round(float(root.get("font-size", "12")) * scale)
    fonts = {False: _font(ImageFont, MONO, size), True: _font(ImageFont, MONO_BOLD, size)}
    for el in root.iter():
        tag = el.tag.replace(NS, "")
        if tag == "rect" and el.get("rx"):
            box = [float(el.get(k, "0")) * scale for k in ("x", "y")]
            box += [
                box[0] + float(el.get("width", "0")) * scale,
                box[1] + float(el.get("height", "0")) * scale,
            ]
            draw.rounded_rectangle(
                box,
                radius=4 * scale,
                fill=el.get("fill"),
                outline=el.get("stroke"),
                width=max(1, round(scale)),
            )
        elif tag == "path" and el.get("class") == "edge":
            pts = [
                (float(x) * scale, float(y) * scale)
                for x, y in re.findall(r"[ML]([-\d.]+),([-\d.]+)", el.get("d", ""))
            ]
            draw.line(pts, fill="#546e7a", width=max(1, round(1.4 * scale)))
            _arrow(draw, pts[-2], pts[-1], 7 * scale)
        elif tag == "text":
            x, y = float(el.get("x", "0")) * scale, float(el.get("y", "0")) * scale
            font = fonts[el.get("font-weight") == "bold"]
            draw.text((x, y), el.text or "", fill=el.get("fill", "black"), font=font, anchor="ls")
    img.save(png)


def _font(image_font, path: str, size: int):  # type: ignore[no-untyped-def]
    try:
        return image_font.truetype(path, size)
    except OSError:
        return image_font.load_default(size=size)


def _arrow(draw, a: tuple[float, float], b: tuple[float, float], size: float) -> None:  # type: ignore[no-untyped-def]
    (x0, y0), (x1, y1) = a, b
    length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-9)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    left = (x1 - size * ux + size / 2 * uy, y1 - size * uy - size / 2 * ux)
    right = (x1 - size * ux - size / 2 * uy, y1 - size * uy + size / 2 * ux)
    draw.polygon([b, left, right], fill="#546e7a")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("svg")
    p.add_argument("png")
    p.add_argument("--pillow", action="store_true", help="do not use Chromium")
    p.add_argument("--scale", type=float, default=1.0, help="Pillow only: zoom factor")
    args = p.parse_args(argv)
    browser = None if args.pillow else chromium()
    if browser:
        render_chromium(args.svg, args.png, browser)
    else:
        render_pillow(args.svg, args.png, args.scale)
    print(
        f"{args.png}: drawn by {'chromium' if browser else 'the Pillow rasteriser'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
