"""The editor core: one image session (prompt, proposal, selection, one history), Qt-free.

The app, ``samcut segment`` and the host bridge all drive ``Editor``; see ``editor.py``.
"""

from samcut.models.editor.editor import DecodeRequest, Editor
from samcut.models.editor.proposal import Proposal

__all__ = ["DecodeRequest", "Editor", "Proposal"]
