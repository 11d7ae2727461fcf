"""Document layer: image IO, selection, strokes, history, export (no Qt)."""
