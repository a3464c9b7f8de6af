"""skbp: scikit-learn estimators built from explicit layers, trained by
backpropagation or by numerical gradients."""

from ._version import __version__
from .classifier import BPClassifier
from .display import TrainingCurveDisplay
from .gradients import gradient_check
from .regressor import BPRegressor

__all__ = [
    "BPClassifier",
    "BPRegressor",
    "TrainingCurveDisplay",
    "gradient_check",
    "__version__",
]
