"""The lab session's PsychoPy side: window, screens, input, start dialog.

This subpackage is the one place the toolkit imports PsychoPy; nothing else in ``paradigm``,
``stimuli`` or ``analysis`` imports it, so the data-only pilot and the analysis run without it.
"""
