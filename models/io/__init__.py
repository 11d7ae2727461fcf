"""Lowest layer: atomic file writes and checksums, shared by every other part of samcut."""
