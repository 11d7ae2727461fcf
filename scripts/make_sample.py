"""Draw ``samples/sample.png``: a plain scene with a few objects to cut out (made by samcut, CC0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def main() -> None:
    rng = np.random.default_rng(7)
    h, w = 600, 900
    y, x = np.mgrid[0:h, 0:w]
    sky = np.dstack([120 + 60 * y / h, 160 + 40 * y / h, 220 - 30 * y / h])
    ground = np.dstack([90 + 0 * y, 140 - 20 * (y - 380) / h, 70 + 0 * y])
    base = np.where((y > 380)[..., None], ground, sky) + rng.normal(0, 6, (h, w, 3))
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    draw = ImageDraw.Draw(image)
    draw.ellipse((330, 250, 530, 450), fill=(210, 40, 40), outline=(120, 20, 20), width=4)  # ball
    draw.rectangle((610, 200, 760, 470), fill=(240, 200, 60), outline=(140, 110, 20), width=4)  # box
    draw.polygon([(120, 470), (200, 260), (280, 470)], fill=(40, 90, 200))  # cone
    out = Path(__file__).resolve().parents[1] / "samples" / "sample.png"
    image.save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    main()
