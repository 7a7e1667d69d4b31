"""Throughline: where a professional-services firm's quote-to-cash handoffs stall."""

__version__ = "0.1.0"
