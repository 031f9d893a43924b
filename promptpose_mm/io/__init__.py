"""The lab tools' file formats, one module per format, and what the formats
share: the labelled frames every label reader returns (:mod:`.labels`).
"""
from .labels import LabelError, LabelledFrame, LabelSet, Skipped

__all__ = ['LabelError', 'LabelledFrame', 'LabelSet', 'Skipped']
