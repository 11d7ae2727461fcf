"""samcut for Krita. Registers the extension only inside Krita, so the package imports anywhere."""

try:
    from krita import Krita
except ImportError:  # outside Krita: tests import the plug-in's logic
    Krita = None

if Krita is not None:
    from .extension import SamcutExtension

    Krita.instance().addExtension(SamcutExtension(Krita.instance()))
