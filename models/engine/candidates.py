"""The one candidate rule, used by the app, ``samcut segment`` and the host bridge.

The decoder always returns four masks: token 0 is SAM's single-mask answer, tokens 1-3 the
three multimask candidates (for example part, object, group). SAM's advice: a prompt that is
ambiguous, a single point or a box alone, should take the best of the multimask candidates;
any richer prompt (several points, or points and a box) is specific enough for the single mask,
which is trained for exactly that case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SINGLE_MASK_TOKEN = 0
MULTIMASK_TOKENS = (1, 2, 3)
STABILITY_DELTA = 0.05      # SAM 2.1: token 0 is kept where its mask barely moves between logit -0.05 and +0.05 ...
STABILITY_THRESHOLD = 0.98  # ... by this IoU; else the best multimask token answers


def is_ambiguous(points: int, has_box: bool) -> bool:
    """True for one point alone or a box alone (``points`` counts positive and negative ones)."""
    return (points == 1 and not has_box) or (points == 0 and has_box)


def candidate_tokens(points: int, has_box: bool) -> Sequence[int]:
    """The tokens to choose among for a prompt of ``points`` points (and a box if ``has_box``)."""
    return MULTIMASK_TOKENS if is_ambiguous(points, has_box) else (SINGLE_MASK_TOKEN,)


def best_token(scores: np.ndarray, tokens: Sequence[int]) -> int:
    """The token among ``tokens`` with the highest predicted IoU in ``scores`` (``(4,)``)."""
    return int(tokens[int(np.argmax(np.asarray(scores)[list(tokens)]))])


def stable_single_token(logits: np.ndarray, scores: np.ndarray) -> int:
    """SAM 2.1's single-mask answer: token 0 when its ``256 x 256`` logits are stable (the area above
    ``+delta`` over the area above ``-delta``, in float32 as the official decoder computes it, at
    least the threshold; 1 where nothing is above ``-delta``), else the best multimask token."""
    token0 = np.asarray(logits)[SINGLE_MASK_TOKEN]
    outer = np.float32(np.count_nonzero(token0 > -STABILITY_DELTA))
    inner = np.float32(np.count_nonzero(token0 > STABILITY_DELTA))
    stability = inner / outer if outer > 0 else np.float32(1.0)
    return SINGLE_MASK_TOKEN if stability >= np.float32(STABILITY_THRESHOLD) else best_token(scores, MULTIMASK_TOKENS)


def default_token(scores: np.ndarray, points: int, has_box: bool, single_token: int = SINGLE_MASK_TOKEN) -> int:
    """The token SAM recommends for this prompt, given the four predicted IoUs ``scores``;
    ``single_token`` is the model family's single-mask answer (``FamilyRules.single_mask_token``)."""
    tokens = candidate_tokens(points, has_box)
    return best_token(scores, tokens) if tokens == MULTIMASK_TOKENS else single_token
