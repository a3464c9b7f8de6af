"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn 1.9+) in skbp's fits.

``fit`` is the root task; its subtasks are the epochs (``"epoch"``) of
``"sgd"`` and ``"adam"``, or the iterations (``"iteration"``) of ``"lbfgs"``;
``partial_fit`` is one task. The hooks receive the estimator whose ``fit`` was
called, the ``X`` and ``y`` given to it, ``{"sample_weight": ...}`` when
weighted and, only when a callback asks for it, a predict-ready copy of the
estimator at the parameters of that task (``fitted_estimator``). Training runs
on a working copy of the estimator (see ``BaseBP._guarded_fit``), so the
estimator itself changes only when ``fit`` returns, after the root task has
ended and the callbacks are torn down: callbacks read the model of an epoch,
and the final one, from ``fitted_estimator``. Without callbacks nothing here
runs.

The callback context of a call lives in its :class:`FitTasks`, never on the
estimator, and the fits with callbacks of one estimator run one at a time
(callbacks such as ``ScoringMonitor`` keep per-estimator state from
``setup`` to ``teardown``), so fits in several threads do not mix contexts.
"""

import threading
import weakref
from contextlib import contextmanager

import numpy as np
import sklearn
from sklearn.utils.validation import _num_samples

from ._array_api import like, to_numpy
from .network import Network
from .optimizers import SOLVERS

try:
    from sklearn.callback import AutoPropagatedCallback, CallbackSupportMixin
    from sklearn.callback._callback_context import CallbackContext

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


# The attributes holding a fit's history: lists that a running fit only
# appends to, so the copies handed to callbacks share them (see SharedPrefix).
HISTORY = ("loss_curve_", "validation_scores_", "validation_loss_curve_")

# One lock per estimator, for its fits with callbacks.
_fit_locks = weakref.WeakKeyDictionary()
_fit_locks_guard = threading.Lock()


def _fit_lock(estimator):
    with _fit_locks_guard:
        return _fit_locks.setdefault(estimator, threading.RLock())


class FitTasks:
    """The callback context of one ``fit`` or ``partial_fit`` call.

    Made by :meth:`open`, which sets the callbacks up and tears them down;
    the root context is this object's, not an attribute of the estimator,
    so the estimator's ``__dict__`` never holds the state of a running fit.
    """

    def __init__(self, estimator, work, X, y, sample_weight, incremental):
        self.estimator = estimator
        self.X, self.y = X, y
        self.metadata = (
            None if sample_weight is None else {"sample_weight": sample_weight}
        )
        # The working copy's hyperparameters: those the fit runs with.
        self.subtask_name = "iteration" if SOLVERS[work.solver].full_batch else "epoch"
        self._callbacks = getattr(estimator, "_skl_callbacks", [])
        # What scikit-learn's _init_callback_context does, kept off the estimator.
        self.context = CallbackContext._from_estimator(
            estimator=estimator,
            task_name="partial_fit" if incremental else "fit",
            task_id=0,
            max_subtasks=0 if incremental else work.max_iter,
            sequential_subtasks=True,
        )
        # Subtasks only when a callback can see them; partial_fit is a leaf.
        self.has_subtasks = not incremental and bool(self._callbacks)
        self._subcontext = None
        self._to_teardown = []

    @classmethod
    @contextmanager
    def open(cls, estimator, work, X, y, sample_weight, incremental):
        """Yield the call's tasks, begun; None when no callback can observe it.

        ``work`` is the working copy that the fit trains.

        The callbacks set up are torn down on exit, whether the fit succeeds
        or not, as scikit-learn's ``_fit_context`` would.
        """
        if not CALLBACKS_SUPPORTED or not (
            hasattr(estimator, "_skl_callbacks")
            or hasattr(estimator, "_parent_callback_ctx")
        ):
            yield None
            return
        with _fit_lock(estimator):
            tasks = cls(estimator, work, X, y, sample_weight, incremental)
            try:
                tasks._setup()
                tasks.context.call_on_fit_task_begin(**tasks._hook_args())
                yield tasks
            finally:
                tasks._teardown()

    def _setup(self):
        """Set up the callbacks not propagated to the estimator, as scikit-learn does.

        Each is listed for teardown before its ``setup`` runs, so a failing
        ``setup`` is torn down too.
        """
        propagated = hasattr(self.estimator, "_parent_callback_ctx")
        for callback in self._callbacks:
            if not (propagated and isinstance(callback, AutoPropagatedCallback)):
                self._to_teardown.append(callback)
                callback.setup(estimator=self.estimator, context=self.context)

    def _teardown(self):
        """scikit-learn's teardown: every callback's, then raise what they raised."""
        errors = []
        for callback in self._to_teardown:
            try:
                callback.teardown(estimator=self.estimator, context=self.context)
            except Exception as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise ExceptionGroup(
                "The following callback teardown errors occurred", errors
            )

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

    def subtask_end(self, est, network, params=None, lbfgs_curve=None):
        """Close the epoch; return True if a callback asks to stop training.

        ``est`` is the working copy and ``network`` the network being trained;
        the estimator handed to the callbacks predicts with ``params`` (the
        network's current parameters by default), copied only if asked for.
        ``lbfgs_curve`` holds the losses of this fit's L-BFGS iterations so
        far, which ``est``'s history does not hold yet.
        """
        if not self.has_subtasks:
            return False

        def attributes():
            attrs = fitted_attributes(est, network, params)
            if lbfgs_curve is not None:
                attrs.update(_lbfgs_history(est, lbfgs_curve, _num_samples(self.X)))
            return attrs

        return self._subcontext.call_on_fit_task_end(
            **self._hook_args(), reconstruction_attributes=attributes
        )

    def end(self, est):
        """Close the root task; ``est``, the working copy, holds the fitted model."""
        self.context.call_on_fit_task_end(
            **self._hook_args(),
            reconstruction_attributes=lambda: fitted_attributes(est, est._network),
        )


def fitted_attributes(est, network, params=None, copy=True, host=False):
    """Attributes that make a copy of the estimator predict as ``est`` would now.

    ``est``'s public attributes, its history as a :class:`SharedPrefix` (so
    later epochs do not extend it, and keeping every epoch's copy costs
    memory linear in the epochs), and a network with ``params`` (the
    network's current parameters by default), copied unless ``copy=False``.
    The parameters are on the network's namespace and device, so that the
    copy predicts the ``X`` of the fit (a tensor under array-API dispatch),
    or on the host with ``host=True``.
    """
    attributes = {
        name: SharedPrefix.of(value) if name in HISTORY else value
        for name, value in vars(est).items()
        if not name.startswith("_")
    }
    params = network.params if params is None else params
    if host or network.space is None:
        params = np.array(to_numpy(params), dtype=network.dtype, copy=copy or None)
    else:  # on the fit's device, no round trip (an L-BFGS iterate moves there)
        xp = network.space.xp
        params = xp.astype(
            like(params, network.params), network.params.dtype, copy=copy
        )
    attributes["_network"] = Network.from_spec(network.spec, params)
    return attributes


def _lbfgs_history(est, curve, n_samples):
    """The history attributes of an L-BFGS fit stopped after ``len(curve)`` iterations.

    As ``fit_lbfgs`` records them at its end: ``curve`` holds the losses of
    this call's iterations, ``est`` the history before the call.
    """
    history = {
        "n_iter_": len(curve),
        "t_": est.t_ + n_samples * len(curve),
        "loss_": curve[-1],
        "loss_curve_": SharedPrefix.of(est.loss_curve_, curve),
    }
    if getattr(est, "best_loss_", None) is not None:
        history["best_loss_"] = min(est.best_loss_, curve[-1])
    return history


def predicting_copy(est, network):
    """A new estimator that predicts on the host with the network's current parameters.

    Shared with the network when it is on the host, else a host copy.
    """
    new = est._copy_state()
    new.__dict__.update(fitted_attributes(est, network, copy=False, host=True))
    return new


class SharedPrefix:
    """The first items of append-only lists, read as one list when first needed.

    A copy of an estimator made during a fit holds its history so far as
    one of these: the length of each list then, not a copy of it.
    ``HistoryAttribute`` turns it into a list on first access.
    """

    __slots__ = ("parts",)

    def __init__(self, parts):
        self.parts = parts

    @classmethod
    def of(cls, *values):
        """The current items of ``values`` (lists, None or SharedPrefix), in order."""
        if values[0] is None:
            return None
        parts = []
        for value in values:
            if isinstance(value, SharedPrefix):
                parts += value.parts
            else:
                parts.append((value, len(value)))
        return cls(tuple(parts))

    def materialize(self):
        """A new list of the items."""
        return [item for values, n in self.parts for item in values[:n]]


class HistoryAttribute:
    """A history attribute (``loss_curve_``...): a list, however it is stored.

    Stored in the instance ``__dict__`` under its own name, as a list or a
    :class:`SharedPrefix`, which the first read replaces by a list.
    """

    def __init__(self):
        # Undocumented on the API pages: the estimator's docstring documents
        # the attribute (Sphinx reads a descriptor's __doc__ as the attribute's).
        self.__doc__ = None

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        try:
            value = obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(
                f"{type(obj).__name__!r} object has no attribute {self.name!r}"
            ) from None
        if isinstance(value, SharedPrefix):
            value = obj.__dict__[self.name] = value.materialize()
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value

    def __delete__(self, obj):
        try:
            del obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None


def materialized(state):
    """``state`` (an estimator's ``__dict__``) with its history as plain lists."""
    return {
        name: value.materialize() if isinstance(value, SharedPrefix) else value
        for name, value in state.items()
    }
