"""Every Qt import of the plug-in: PyQt5 in Krita 5, PyQt6 in Krita 6 (never PySide6)."""

try:  # Krita 6
    from PyQt6.QtCore import QProcess, QProcessEnvironment, QTimer  # noqa: F401
    from PyQt6.QtGui import QImage  # noqa: F401
    from PyQt6.QtWidgets import QMessageBox  # noqa: F401

    QT_API = "PyQt6"
    FORMAT_ARGB32 = QImage.Format.Format_ARGB32
    FORMAT_GRAY8 = QImage.Format.Format_Grayscale8
except ImportError:  # Krita 5
    from PyQt5.QtCore import QProcess, QProcessEnvironment, QTimer  # noqa: F401
    from PyQt5.QtGui import QImage  # noqa: F401
    from PyQt5.QtWidgets import QMessageBox  # noqa: F401

    QT_API = "PyQt5"
    FORMAT_ARGB32 = QImage.Format_ARGB32
    FORMAT_GRAY8 = QImage.Format_Grayscale8
