"""A refinement test set: real photos composited through known masks, degraded as SAM degrades them.

Foregrounds and backgrounds are the photos of the reference folder's ``synthetic/`` composites.
Masks are smooth blobs with a sharp (anti-aliased) or a soft (ramped) edge. The degradation is
SAM's: the alpha is averaged onto the 256 grid of its 1024 frame and upsampled back bilinearly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from samcut.models.document.selection import edges as boundary
from samcut.models.document.selection import grow
from samcut.models.engine.preprocess import IMAGE_SIZE, LOW_RES, resized_size


@dataclass
class Case:
    name: str
    rgb: np.ndarray          # uint8 H x W x 3 composite
    alpha: np.ndarray        # float32 H x W ground truth in [0, 1]
    low_res: np.ndarray      # float32 256 x 256 logits of the degraded mask
    input_size: tuple[int, int]


def blob_alpha(h: int, w: int, soft_px: float, seed: int, detailed: bool = False) -> np.ndarray:
    """A smooth blob; ``detailed`` adds a jagged outline (fine teeth) and thin strands (hair)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h * rng.uniform(0.4, 0.6), w * rng.uniform(0.4, 0.6)
    theta = np.arctan2(y - cy, x - cx)
    base = min(h, w) * 0.3
    radius = base * (1 + 0.18 * np.sin(3 * theta + rng.uniform(0, 6))
                     + 0.08 * np.cos(5 * theta + rng.uniform(0, 6)))
    if detailed:  # teeth of a few pixels to a few tens, as on leaves, fur, lace
        for freq in (23, 41, 67):
            radius = radius + base * 0.012 * (67 / freq) ** 0.5 * np.sin(freq * theta + rng.uniform(0, 6))
    signed = radius - np.hypot(y - cy, x - cx)  # > 0 inside, in pixels (roughly)
    alpha = np.clip(0.5 + signed / max(1.0, 2 * soft_px), 0, 1).astype(np.float32)
    if detailed:
        scale = min(h, w) / 1024
        for angle in rng.uniform(0, 2 * np.pi, 14):
            r0 = base * 0.95
            length, width = base * rng.uniform(0.15, 0.35), scale * rng.uniform(2.0, 4.0)
            ax, ay = cx + r0 * np.cos(angle), cy + r0 * np.sin(angle)
            bx, by = ax + length * np.cos(angle + 0.3), ay + length * np.sin(angle + 0.3)
            ys0, ys1 = int(max(0, min(ay, by) - width - 2)), int(min(h, max(ay, by) + width + 2))
            xs0, xs1 = int(max(0, min(ax, bx) - width - 2)), int(min(w, max(ax, bx) + width + 2))
            py, px = y[ys0:ys1, xs0:xs1], x[ys0:ys1, xs0:xs1]
            t = np.clip(((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / length ** 2, 0, 1)
            dist = np.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay))
            strand = np.clip(width / 2 + 0.5 - dist, 0, 1)
            np.maximum(alpha[ys0:ys1, xs0:xs1], strand, out=alpha[ys0:ys1, xs0:xs1])
    return alpha


def degrade(alpha: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """SAM's resolution loss: alpha -> 256 x 256 logits over the padded 1024 frame."""
    h, w = alpha.shape
    new_h, new_w = resized_size(h, w)
    frame = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    frame[:new_h, :new_w] = np.asarray(Image.fromarray(alpha).resize((new_w, new_h), Image.BOX))
    p = frame.reshape(LOW_RES, 4, LOW_RES, 4).mean(axis=(1, 3))
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p)).astype(np.float32), (new_h, new_w)


def make_cases(synthetic: Path, size: tuple[int, int] = (1024, 1536), count: int = 6,
               detailed: bool = False) -> list[Case]:
    photos = sorted(synthetic.glob("composite_[0-9].png"))
    cases = []
    h, w = size
    for i in range(count):
        fg = np.asarray(Image.open(photos[i % len(photos)]).convert("RGB").resize((w, h)), np.float32)
        bg = np.asarray(Image.open(photos[(i + 1) % len(photos)]).convert("RGB").resize((w, h)), np.float32)
        bg = bg[::-1, ::-1]  # a different part of the other photo behind the object
        soft = 0.6 if i % 2 == 0 else 6.0
        alpha = blob_alpha(h, w, soft, seed=i, detailed=detailed)
        rgb = (alpha[..., None] * fg + (1 - alpha[..., None]) * bg + 0.5).astype(np.uint8)
        low, input_size = degrade(alpha)
        kind = ("detailed-" if detailed else "") + ("sharp" if soft < 1 else "soft")
        cases.append(Case(f"{kind}-{i}", rgb, alpha, low, input_size))
    return cases


def boundary_f(pred: np.ndarray, truth: np.ndarray, tolerance: int = 2) -> float:
    """Boundary F-score: boundary pixels of ``pred`` within ``tolerance`` px of ``truth``'s, and back."""
    bp, bt = boundary(pred), boundary(truth)
    if not bp.any() or not bt.any():
        return 0.0
    near_t = grow(bt.astype(np.uint8) * 255, tolerance) > 0
    near_p = grow(bp.astype(np.uint8) * 255, tolerance) > 0
    precision = (bp & near_t).sum() / bp.sum()
    recall = (bt & near_p).sum() / bt.sum()
    return float(2 * precision * recall / max(precision + recall, 1e-9))


def scores(alpha_u8: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(boundary F at 2 px, alpha MSE) of a ``uint8`` alpha against the true float alpha."""
    a = alpha_u8.astype(np.float32) / 255.0
    return boundary_f(a >= 0.5, truth >= 0.5), float(np.mean((a - truth) ** 2))
