"""Analysis of pain-empathy trial data: reading, checks, mixed models, power and the report."""
import logging

__all__ = []
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
