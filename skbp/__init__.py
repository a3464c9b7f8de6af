"""skbp: a scikit-learn classifier built from explicit layers, trained by
backpropagation or by numerical gradients."""

from ._version import __version__
from .classifier import BPClassifier
from .display import TrainingCurveDisplay
from .gradients import gradient_check

__all__ = ["BPClassifier", "TrainingCurveDisplay", "gradient_check", "__version__"]
