"""A prompt state as decoder prompts: the whole prompt, and the prompts a replay decodes before it.

Coordinates: the state holds image pixels; decoder prompts are in the pixels of the frame they are
decoded in (a zoomed region whose top-left is ``frame[:2]``, or the whole image).
"""

from __future__ import annotations

import numpy as np

from samcut.models.document.strokes import Stroke, StrokePrompt
from samcut.models.editor.history import PromptState
from samcut.models.engine.types import XYXY, Prompt


def decoder_prompt(state: PromptState, frame: XYXY | None, frame_size: tuple[int, int], strokes: tuple[Stroke, ...],
                   live: Stroke | None, mask_input: np.ndarray | None) -> Prompt:
    """``strokes`` (finished, from ``state``), ``live`` (being drawn) and ``state``'s box as one
    decoder prompt in the pixels of ``frame`` (``frame_size`` ``(H, W)``), with ``mask_input``."""
    box = state.box
    points, labels = StrokePrompt(frame_size, list(strokes), box).points_and_labels(live)
    if frame is not None:
        x0, y0 = frame[:2]
        points = [(x - x0, y - y0) for x, y in points]
        box = None if box is None else (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
    return Prompt(points=points, labels=labels, box=box, mask_input=mask_input)


def replay_lead(state: PromptState, frame: XYXY | None, frame_size: tuple[int, int],
                live: Stroke | None) -> tuple[Prompt, ...]:
    """The prompts a replay decodes before the whole one, in the order ``samcut segment`` gives
    them: the box alone, then the strokes one by one (each answer the next one's mask input)."""
    strokes = state.strokes
    steps = [decoder_prompt(state, frame, frame_size, (), None, None)] if state.box is not None else []
    steps += [decoder_prompt(state, frame, frame_size, strokes[:i], None, None)
              for i in range(1, len(strokes) + (live is not None))]
    return tuple(steps)
