"""samcut desktop app (PySide6)."""
