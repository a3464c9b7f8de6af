"""Warnings that point at the user's call, whatever the depth they are raised at."""

import sys
import warnings

# Modules whose frames stand between the user's call and skbp's code:
# skbp's own, and scikit-learn's _fit_context wrapper around fit.
_INTERNAL = ("skbp", "sklearn.base")


def warn(message, category=UserWarning):
    """``warnings.warn`` attributed to the first frame outside skbp.

    The stack level is computed, not counted by hand: the frames of skbp's
    modules and of scikit-learn's ``_fit_context`` wrapper are skipped, so
    the warning names the line that called ``fit`` (or ``partial_fit``),
    however deep in the training code it is raised.
    """
    frame, level = sys._getframe(1), 2  # level 2: warn's caller
    while frame is not None and _is_internal(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _is_internal(frame):
    name = frame.f_globals.get("__name__", "")
    return any(name == m or name.startswith(m + ".") for m in _INTERNAL)
