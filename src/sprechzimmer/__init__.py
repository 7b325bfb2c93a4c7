"""sprechzimmer: self-hostable video consultation for psychotherapists and their clients."""

__version__ = "0.1.0"
