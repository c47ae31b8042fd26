"""Draws examples/shapes.png, the 64x64 grayscale picture the edge-detector example runs on.

python examples/make_shapes.py     # needs Pillow (pip install 'cnndsl[viz]')
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

img = Image.new("L", (64, 64), 30)
draw = ImageDraw.Draw(img)
draw.rectangle((6, 6, 26, 26), fill=220)  # a square
draw.ellipse((36, 4, 60, 28), fill=160)  # a disc
draw.polygon([(8, 58), (22, 34), (36, 58)], fill=255)  # a triangle
draw.text((40, 40), "CNN", fill=255, font=ImageFont.load_default())
img.save(Path(__file__).with_name("shapes.png"), optimize=True)
