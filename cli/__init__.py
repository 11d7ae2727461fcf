"""samcut command line."""
