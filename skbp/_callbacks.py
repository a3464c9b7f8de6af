"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn 1.9+) in skbp's fits.

``fit`` is the root task; its subtasks are the epochs (``"epoch"``) of
``"sgd"`` and ``"adam"``, or the iterations (``"iteration"``) of ``"lbfgs"``;
``partial_fit`` is one task. The hooks receive the estimator whose ``fit`` was
called, the ``X`` and ``y`` given to it, ``{"sample_weight": ...}`` when
weighted and, only when a callback asks for it, a predict-ready copy of the
estimator at the parameters of that task (``fitted_estimator``). Training runs
on a working copy of the estimator (see ``BaseBP._guarded_fit``), so the
estimator itself changes only when ``fit`` returns: callbacks read the model
of an epoch from ``fitted_estimator``. Without callbacks nothing here runs.
"""

import numpy as np
import sklearn

from .network import Network

try:
    from sklearn.callback import CallbackSupportMixin

    CALLBACKS_SUPPORTED = True
except ImportError:  # scikit-learn < 1.9
    CALLBACKS_SUPPORTED = False

    class CallbackSupportMixin:
        """Stand-in for scikit-learn < 1.9, which has no callback API."""

        def set_callbacks(self, *callbacks):
            """Raise: callbacks need scikit-learn 1.9 or later."""
            raise RuntimeError(
                "Callbacks need scikit-learn 1.9 or later (sklearn.callback); "
                f"scikit-learn {sklearn.__version__} is installed. Upgrade with "
                "pip install -U 'scikit-learn>=1.9'."
            )


class FitTasks:
    """The callback context of one ``fit`` or ``partial_fit`` call.

    Made by :meth:`start` on the estimator itself, before its working copy:
    the context and the callbacks to tear down then live in the estimator's
    ``__dict__`` whether the fit succeeds (the copy's dict, published, holds
    them too) or fails, and scikit-learn's ``_fit_context`` tears them down.
    """

    def __init__(self, estimator, X, y, sample_weight, incremental):
        self.estimator = estimator
        self.X, self.y = X, y
        self.metadata = (
            None if sample_weight is None else {"sample_weight": sample_weight}
        )
        self.subtask_name = "iteration" if estimator.solver == "lbfgs" else "epoch"
        self.context = estimator._init_callback_context(
            task_name="partial_fit" if incremental else "fit",
            max_subtasks=0 if incremental else estimator.max_iter,
        )
        # Subtasks only when a callback can see them; partial_fit is a leaf.
        self.has_subtasks = not incremental and bool(
            getattr(estimator, "_skl_callbacks", None)
        )
        self._subcontext = None
        self.context.call_on_fit_task_begin(**self._hook_args())

    @classmethod
    def start(cls, estimator, X, y, sample_weight, incremental):
        """Open the call's root task; None when no callback can observe it."""
        if not CALLBACKS_SUPPORTED or not (
            hasattr(estimator, "_skl_callbacks")
            or hasattr(estimator, "_parent_callback_ctx")
        ):
            return None
        return cls(estimator, X, y, sample_weight, incremental)

    def _hook_args(self):
        return {
            "estimator": self.estimator,
            "X": self.X,
            "y": self.y,
            "metadata": self.metadata,
        }

    def subtask_begin(self):
        """Open the next epoch (or L-BFGS iteration)."""
        if self.has_subtasks:
            self._subcontext = self.context.subcontext(task_name=self.subtask_name)
            self._subcontext.call_on_fit_task_begin(**self._hook_args())

    def subtask_end(self, est, network, params=None):
        """Close the epoch; return True if a callback asks to stop training.

        ``est`` is the working copy and ``network`` the network being trained;
        the estimator handed to the callbacks predicts with ``params`` (the
        network's current parameters by default), copied only if asked for.
        """
        if not self.has_subtasks:
            return False
        return self._subcontext.call_on_fit_task_end(
            **self._hook_args(),
            reconstruction_attributes=lambda: fitted_attributes(est, network, params),
        )

    def end(self):
        """Close the root task, the estimator now holding the fitted model."""
        self.context.call_on_fit_task_end(
            **self._hook_args(), reconstruction_attributes={}
        )


def fitted_attributes(est, network, params=None, copy=True):
    """Attributes that make a copy of the estimator predict as ``est`` would now.

    ``est``'s public attributes (lists copied, so later epochs do not extend
    them) and a network with ``params`` (the network's current parameters by
    default), copied unless ``copy=False``.
    """
    attributes = {
        name: list(value) if isinstance(value, list) else value
        for name, value in vars(est).items()
        if not name.startswith("_")
    }
    params = network.params if params is None else params
    params = np.array(params, dtype=network.dtype, copy=copy or None)
    attributes["_network"] = Network(
        network.layer_units, params, network.activation, network.output
    )
    return attributes


def predicting_copy(est, network):
    """A new estimator that predicts with the network's current parameters (shared)."""
    new = est._copy_state()
    new.__dict__.update(fitted_attributes(est, network, copy=False))
    return new
