"""Data sets and readers; :func:`ptb_producer` batches token ids for language models."""

from .sequences import ptb_producer

__all__ = ["ptb_producer"]
