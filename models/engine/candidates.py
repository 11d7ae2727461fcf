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


def is_ambiguous(points: int, has_box: bool) -> bool:
    """True for one point alone or a box alone (``points`` counts positive and negative ones)."""
    return (points == 1 and not has_box) or (points == 0 and has_box)


def candidate_tokens(points: int, has_box: bool) -> Sequence[int]:
    """The tokens to choose among for a prompt of ``points`` points (and a box if ``has_box``)."""
    return MULTIMASK_TOKENS if is_ambiguous(points, has_box) else (SINGLE_MASK_TOKEN,)


def best_token(scores: np.ndarray, tokens: Sequence[int]) -> int:
    """The token among ``tokens`` with the highest predicted IoU in ``scores`` (``(4,)``)."""
    return int(tokens[int(np.argmax(np.asarray(scores)[list(tokens)]))])


def default_token(scores: np.ndarray, points: int, has_box: bool) -> int:
    """The token SAM recommends for this prompt, given the four predicted IoUs ``scores``."""
    return best_token(scores, candidate_tokens(points, has_box))
