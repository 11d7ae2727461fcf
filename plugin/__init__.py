"""Bridge between host plug-ins (GIMP, Krita) and samcut."""
