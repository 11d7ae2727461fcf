"""Batch runs (``samcut batch``): the input listing, shards and the resumable manifest. Qt-free and
engine-free: what runs on each image lives with the CLI, which calls the same functions as
``samcut segment`` and ``samcut objects``."""
