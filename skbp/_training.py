"""The training loops: mini-batch epochs (stochastic solvers) and full-batch L-BFGS.

Each loop trains ``network.params`` in place and records the history on the
estimator (``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``, ...). The
estimator supplies the data already validated and encoded; the loops ask it
only for its hyperparameters and for ``_validation_score``.
"""

import math
import time
from numbers import Real

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

from . import _threads, _warnings
from ._array_api import copied, like, namespace, to_numpy
from ._callbacks import predicting_copy
from .gradients import GRADIENTS
from .optimizers import SOLVERS


def fit_stochastic(est, network, X, T, sample_weight, rng, incremental):
    """Mini-batch epochs with MLPClassifier's stopping rules; False if interrupted.

    Besides an infinite or NaN loss, a loss that has exploded is divergence
    (a ``ValueError``): an epoch's loss above both the square root of the
    largest float of the parameters' dtype (1.3e154 in float64, 1.8e19 in
    float32) and ``2**64`` (1.8e19) times the lowest epoch loss recorded
    before it in ``loss_curve_``. With early stopping, an epoch whose
    validation score is NaN is never the best; if every score is NaN, the
    model keeps the last epoch's parameters, with a warning. An interrupt
    (Ctrl-C) during an epoch, its validation included, leaves that epoch out
    of the whole history.
    """
    optimizer = _resume_optimizer(est, network.params, incremental)
    validation = None
    if est.early_stopping:
        X, T, sample_weight, held_out = _split_validation(est, X, T, sample_weight, rng)
    n_samples = X.shape[0]
    # In MLPClassifier's order: the split, the batch-size warning, then what
    # can fail on the held-out rows.
    batch_size = _checked_batch_size(est, n_samples)
    if est.early_stopping:
        _check_split_weights(sample_weight, held_out[2])
        est._best_params = None  # set by the first validated epoch
        validation = _Validation(est, network, *held_out)
    compute_gradient = GRADIENTS[est.gradient]
    sample_idx = np.arange(n_samples)
    gather = _RowGather(network, X, T, sample_weight, batch_size)
    tasks = getattr(est, "_fit_tasks", None)  # callbacks: see skbp._callbacks
    try:
        for _ in range(1 if incremental else est.max_iter):
            start = time.perf_counter()
            if tasks is not None:
                tasks.subtask_begin()
            if est.shuffle:
                # The permutation sklearn.utils.shuffle draws, without its overhead.
                rng.shuffle(sample_idx)
            loss = _run_epoch(
                est, network, optimizer, compute_gradient, gather, sample_idx,
                sample_weight, batch_size, rng,
            )  # fmt: skip
            _check_not_exploded(loss, est.loss_curve_, network.dtype)
            _record_epoch(est, network, loss, n_samples, validation)
            if est.verbose:
                _print_epoch(est, time.perf_counter() - start)
            optimizer.iteration_ends(est.t_)
            if tasks is not None and tasks.subtask_end(est, network):
                break  # a callback asked to stop, as early stopping would
            if _should_stop(est, optimizer):
                break
        else:
            if not incremental:
                _warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) "
                    "reached and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                )
    except KeyboardInterrupt:
        _warnings.warn(
            f"Training interrupted by user after {est.n_iter_} epochs; the "
            "model keeps the parameters of the last completed step"
            + (" (or the best epoch's)." if est.early_stopping else "."),
            UserWarning,
        )
        interrupted = True
    else:
        interrupted = False
    if est.early_stopping:
        _restore_best(est, network)
    return not interrupted


def _restore_best(est, network):
    """Set the best epoch's parameters; warn if no epoch had a score (all NaN)."""
    best = est.__dict__.pop("_best_params", None)
    if best is not None:
        network.params[...] = best
    elif est.n_iter_:  # this call scored epochs, all NaN
        est.best_validation_score_ = np.nan
        _warnings.warn(
            f"Every validation score of this fit was NaN (scoring={est.scoring!r}), "
            "so no epoch could be chosen as the best: the model keeps the last "
            "epoch's parameters. Use a scoring that is defined on the "
            "validation rows (roc_auc, for example, needs both values of each "
            "label among them), or set early_stopping=False.",
            UserWarning,
        )


def _checked_batch_size(est, n_samples):
    """``est._batch_size(n_samples)``, warning as MLP does when it clips."""
    if est.batch_size != "auto" and not 1 <= est.batch_size <= n_samples:
        _warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going "
            "to be clipped",
            UserWarning,
        )
    return est._batch_size(n_samples)


# An epoch's loss this many times the lowest before it (and beyond the square
# root of the float range) has exploded: see fit_stochastic.
_EXPLOSION_FACTOR = 2.0**64


def _check_not_exploded(loss, history, dtype):
    """Raise the divergence error if ``loss`` has exploded relative to ``history``."""
    if (
        history
        and loss > math.sqrt(float(np.finfo(dtype).max))
        and loss > _EXPLOSION_FACTOR * min(history)
    ):
        raise ValueError(
            f"Training diverged: the loss exploded from {min(history):.3g} to "
            f"{loss:.3g}. Scale the inputs (for example with StandardScaler) and "
            "the targets, or lower learning_rate_init."
        )


def _resume_optimizer(est, params, incremental):
    """A new optimizer, which under ``partial_fit`` resumes the previous one's state.

    The new optimizer follows the hyperparameters as they are now (changed
    with ``set_params``, perhaps); the previous one is left as it was, so
    that a failed call leaves the estimator unchanged. Its running arrays
    move to where ``params`` are: a model may continue on another namespace.
    """
    optimizer = SOLVERS[est.solver].optimizer.from_estimator(est, params)
    previous = getattr(est, "_optimizer", None) if incremental else None
    if type(previous) is type(optimizer):
        state = previous.state()
        for name in optimizer.state_arrays:
            if state[name] is not None:
                state[name] = like(state[name], params)
        optimizer.load_state(state)
    est._optimizer = optimizer
    return optimizer


def _split_validation(est, X, T, sample_weight, rng):
    """Hold out ``validation_fraction`` of the rows; return the rest and the held out.

    Stratified by class where the estimator asks for it and it is possible;
    otherwise a plain split, with a warning when stratification was wanted.
    """
    stratify = est._stratify_labels(T)
    if stratify is not None and not _can_stratify(stratify, est.validation_fraction):
        _warnings.warn(
            "The early-stopping validation split cannot be stratified (a class "
            "has too few samples for validation_fraction="
            f"{est.validation_fraction}); using a plain random split.",
            UserWarning,
        )
        stratify = None
    train, val = train_test_split(
        np.arange(X.shape[0]),
        random_state=rng,
        test_size=est.validation_fraction,
        stratify=stratify,
    )
    if len(val) < 2:
        raise ValueError(
            "The validation set is too small. Increase validation_fraction "
            "or the size of your dataset."
        )
    sw_val = sw_train = None
    if sample_weight is not None:
        sw_train, sw_val = sample_weight[train], sample_weight[val]
    return X[train], T[train], sw_train, (X[val], T[val], sw_val)


def _check_split_weights(sw_train, sw_val):
    """Raise if either early-stopping split has no positive sample weight."""
    if sw_train is None:
        return
    for name, weights in (("training", sw_train), ("validation", sw_val)):
        if not weights.sum() > 0:
            raise ValueError(
                f"Every row of the early-stopping {name} split has sample "
                "weight 0: nothing to train or score on. Give more rows a "
                "positive weight, change validation_fraction or "
                "random_state, or set early_stopping=False."
            )


def _can_stratify(labels, validation_fraction):
    """Whether ``train_test_split`` can stratify ``labels`` (class indices)."""
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    n_val = int(np.ceil(validation_fraction * len(labels)))
    return (
        counts.min() >= 2
        and n_val >= len(counts)
        and len(labels) - n_val >= len(counts)
    )


def _run_epoch(
    est, network, optimizer, compute_gradient, gather, sample_idx, sample_weight,
    batch_size, rng,
):  # fmt: skip
    """One pass over the batches; return the (weighted) mean training loss.

    Each step draws its dropout masks from ``rng`` (none without dropout).
    """
    n_samples = len(sample_idx)
    accumulated_loss = 0.0
    for batch in _batches(n_samples, batch_size):
        idx = sample_idx[batch] if est.shuffle else batch
        sw = None if sample_weight is None else sample_weight[idx]  # on the host
        if sw is not None and not sw.any():
            continue  # nothing to learn from an all-zero-weight batch
        n_batch = batch.stop - batch.start
        network.draw_masks(rng, n_batch)
        X_batch, T_batch, sw_batch = gather(idx, sw)
        batch_loss = compute_gradient(
            network, X_batch, T_batch, sw_batch, alpha=est.alpha, h=est.numerical_step
        )
        check_finite(batch_loss, "loss")
        # Reported before the step changes the weights the L2 term is of.
        batch_loss = network.reported_loss(batch_loss, n_batch, sw, est.alpha)
        optimizer.update_params(network.params, network.grads)
        accumulated_loss += batch_loss * (n_batch if sw is None else sw.sum())
    check_finite(network.params, "weights")
    total = n_samples if sample_weight is None else sample_weight.sum()
    return float(accumulated_loss / total)


def _record_epoch(est, network, loss, n_samples, validation):
    """Append the epoch to the history; update the stopping rule's count.

    The held-out rows are evaluated before anything is recorded, so that an
    interrupt there leaves the epoch out of every curve.
    """
    if validation is not None:
        validation_loss, score = validation.evaluate(est, network)
    est.n_iter_ += 1
    est.t_ += n_samples
    est.loss_ = loss
    est.loss_curve_.append(loss)
    if validation is None:
        improved = loss <= est.best_loss_ - est.tol
        est.best_loss_ = min(est.best_loss_, loss)
    else:
        est.validation_loss_curve_.append(validation_loss)
        est.validation_scores_.append(score)
        # Compare in the "higher is better" direction: the loss is negated.
        # A NaN score is neither an improvement nor ever the best.
        sign = -1.0 if est.scoring == "loss" else 1.0
        best = sign * est.best_validation_score_
        improved = sign * score >= best + est.tol
        if sign * score > best or (est._best_params is None and not math.isnan(score)):
            est.best_validation_score_ = score
            est._best_params = copied(network.params)
    est._no_improvement_count = 0 if improved else est._no_improvement_count + 1


class _Validation:
    """The held-out rows of early stopping and how each epoch is scored on them.

    A scorer is tried once on the initial model, so that one that cannot
    apply (to a regressor, to these targets) fails before any training.
    """

    def __init__(self, est, network, X, T, sample_weight):
        self.X, self.T, self.sample_weight = X, T, sample_weight
        space = network.space  # the logits are computed there
        self.X_for_network = X if space is None else space.put(X)
        self.scorer = None
        if est.scoring is not None and est.scoring != "loss":
            self.scorer = get_scorer(est.scoring)  # a callable is returned as is
            self.y = est._decode_targets(T)
            self._check_scorer(est, network)

    def _check_scorer(self, est, network):
        """Raise a ValueError naming ``scoring`` if it cannot score this model."""
        what = f"scoring={est.scoring!r} cannot score this {type(est).__name__}"
        try:
            score = self._score(est, network)
        except Exception as exc:  # whatever the failure, the scorer does not apply
            reason = f"{type(exc).__name__}: {str(exc).rstrip('.')}"
            raise ValueError(
                f"{what}: {reason}. Choose a scorer that applies to the estimator "
                "and its targets, or scoring=None (the estimator's score method)."
            ) from exc
        if not isinstance(score, Real) or isinstance(score, bool):
            raise ValueError(
                f"{what}: it returned {score!r}, not a number. A scorer must "
                "return a float (higher is better)."
            )

    def _score(self, est, network):
        """The scorer's value for an estimator predicting with ``network``."""
        # The rows are validated arrays, which carry no feature names.
        model = predicting_copy(est, network)
        model.__dict__.pop("feature_names_in_", None)
        sw = self.sample_weight
        kwargs = {} if sw is None else {"sample_weight": sw}
        return self.scorer(model, self.X, self.y, **kwargs)

    def evaluate(self, est, network):
        """Return the held-out loss and the score that ``est.scoring`` names.

        The loss is ``loss_curve_``'s: the output layer's (weighted) mean loss
        as reported (``Network.report``) plus the L2 term
        ``0.5 * alpha * sum(W**2) / sum(w)``, here over the held-out rows as
        one batch.
        """
        logits = to_numpy(network.logits(self.X_for_network))
        if self.scorer is not None:
            score = float(self._score(est, network))
        elif est.scoring is None:
            score = est._validation_score(logits, self.T, self.sample_weight)
        # A fresh output layer: the training network's caches stay as they are.
        data_loss = network.new_loss_layer().forward(
            logits, self.T, self.sample_weight, out=logits
        )
        penalty = network.l2_penalty(len(self.T), self.sample_weight, est.alpha)
        loss = float(network.report(data_loss, penalty))
        return loss, loss if est.scoring == "loss" else score


def _should_stop(est, optimizer):
    """The ``tol``/``n_iter_no_change`` rule (the adaptive schedule may go on)."""
    if est._no_improvement_count <= est.n_iter_no_change:
        return False
    what = "Validation score" if est.early_stopping else "Training loss"
    msg = (
        f"{what} did not improve more than tol={est.tol:f} for "
        f"{est.n_iter_no_change} consecutive epochs."
    )
    if optimizer.trigger_stopping(msg, est.verbose):
        return True
    est._no_improvement_count = 0
    return False


def _print_epoch(est, seconds):
    line = f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}"
    if est.early_stopping and est.validation_scores_:
        line += f", validation score = {est.validation_scores_[-1]:.6f}"
    print(f"{line}, {seconds:.2f} s")


def fit_lbfgs(est, network, X, T, sample_weight):
    """Full-batch L-BFGS-B on the flat parameter vector; False if interrupted.

    An interrupt keeps the last completed iterate (the initial parameters if
    none completed), and the history describes it.

    L-BFGS minimises the objective the gradients differentiate; the history
    reports it as the stochastic solvers do (``Network.reported_loss``). For
    several squared-error outputs the two differ, and ``MLPRegressor``'s line
    search uses its reported loss with the gradient of the objective, so its
    L-BFGS path differs from skbp's there (skbp's pair is consistent).
    """
    compute_gradient = GRADIENTS[est.gradient]
    params = network.params
    space = network.space  # scipy runs on the host: iterates move
    put = (lambda theta: theta) if space is None else space.put
    x0 = to_numpy(params).astype(np.float64)
    host_weight = sample_weight
    X, T, sample_weight = on_network_space(network, X, T, sample_weight)

    def set_params(theta):
        params[...] = put(theta.astype(network.dtype, copy=False))

    def loss_and_grad(theta):
        set_params(theta)
        loss = compute_gradient(
            network, X, T, sample_weight, alpha=est.alpha, h=est.numerical_step
        )
        check_finite(loss, "loss")
        return loss, to_numpy(network.grads).astype(np.float64)

    curve, last, stopped = [], None, False
    start = time.perf_counter()
    tasks = getattr(est, "_fit_tasks", None)  # callbacks: see skbp._callbacks

    def reported(objective, theta):
        return network.reported_loss(
            float(objective), X.shape[0], host_weight, est.alpha,
            params=theta.astype(network.dtype, copy=False),
        )  # fmt: skip

    def record(intermediate_result):
        nonlocal last, stopped
        last = intermediate_result.x.copy()
        curve.append(reported(intermediate_result.fun, last))
        if est.verbose:
            print(
                f"Iteration {len(curve)}, loss = {curve[-1]:.8f}, "
                f"{time.perf_counter() - start:.2f} s"
            )
        if tasks is not None:
            tasks.subtask_begin()
            stopped = tasks.subtask_end(est, network, last, lbfgs_curve=curve)
            if stopped:
                raise StopIteration  # a callback asked to stop: scipy ends here

    result = None
    try:
        with _threads.single_threaded_scipy_blas():
            result = scipy.optimize.minimize(
                loss_and_grad,
                x0,
                method="L-BFGS-B",
                jac=True,
                callback=record,
                options={
                    "maxfun": est.max_fun,
                    "maxiter": est.max_iter,
                    "gtol": est.tol,
                },
            )
    except KeyboardInterrupt:
        _warnings.warn(
            f"Training interrupted by user after {len(curve)} L-BFGS iterations; "
            "the model keeps the parameters of the last completed iteration.",
            UserWarning,
        )
    if result is not None:
        set_params(result.x)
        loss = reported(result.fun, result.x)
        if not result.success and not stopped:
            _warnings.warn(
                f"L-BFGS failed to converge: {result.message}. Increase "
                "max_iter or max_fun, or scale the data.",
                ConvergenceWarning,
            )
    else:
        set_params(x0 if last is None else last)
        if curve:
            loss = curve[-1]
        else:
            loss = reported(network.forward(X, T, sample_weight, est.alpha), params)
    check_finite(params, "weights")
    est.n_iter_ = len(curve)
    est.t_ += X.shape[0] * len(curve)
    est.loss_curve_ += curve
    est.loss_ = loss
    if est.best_loss_ is not None:  # None under early_stopping, which L-BFGS ignores
        est.best_loss_ = min(est.best_loss_, loss)
    return result is not None  # not interrupted


def check_finite(value, what):
    """Raise the divergence error if ``value`` (a float or an array) is not finite."""
    if isinstance(value, float):  # the per-step loss: no numpy call overhead
        finite = math.isfinite(value)
    elif isinstance(value, np.ndarray):
        finite = np.isfinite(value).all()
    else:  # another namespace's array (see _array_api)
        xp = namespace(value)
        finite = bool(xp.all(xp.isfinite(value)))
    if not finite:
        raise ValueError(
            f"Training diverged: the {what} became infinite or NaN. Scale the inputs "
            "(for example with StandardScaler) or lower learning_rate_init."
        )


def _batches(n, size):
    """Consecutive slices of ``size`` rows covering ``range(n)``.

    What ``sklearn.utils.gen_batches`` yields, without its per-call parameter
    validation (about 50 us, once per epoch).
    """
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


class _RowGather:
    """A mini-batch's ``(X[idx], T[idx], sample_weight[idx])``, on the network's space.

    On numpy, dense ``X`` is copied into one reused buffer; slices (no
    shuffling), sparse ``X`` and dense ``X`` not in C order (such as
    ``load_digits``'s, where ``take`` into a buffer is 20 times slower than
    indexing) are indexed as usual. On another ``space``, the arrays are
    moved there once and the indices of each batch with them.
    """

    def __init__(self, network, X, T, sample_weight, batch_size):
        self.space = network.space
        X, T, sample_weight = on_network_space(network, X, T, sample_weight)
        self.X, self.T, self.sample_weight = X, T, sample_weight
        self.buffer = None
        if isinstance(X, np.ndarray) and X.flags.c_contiguous:
            self.buffer = np.empty((batch_size, X.shape[1]), X.dtype)

    def __call__(self, idx, sw):
        """The batch's rows; ``sw``: its sample weights on the host (or None)."""
        if self.space is not None:
            if not isinstance(idx, slice):
                idx = self.space.xp.asarray(idx, device=self.space.device)
            return tuple(
                None if a is None else self._rows(a, idx)
                for a in (self.X, self.T, self.sample_weight)
            )
        if self.buffer is None or isinstance(idx, slice):
            return self.X[idx], self.T[idx], sw
        # Indices come from a permutation: mode="clip" skips the bounds pass.
        X = self.X.take(idx, axis=0, out=self.buffer[: len(idx)], mode="clip")
        return X, self.T[idx], sw

    def _rows(self, array, idx):
        if isinstance(idx, slice):
            return array[idx, ...]
        return self.space.xp.take(array, idx, axis=0)


def on_network_space(network, X, T, sample_weight):
    """``X``, ``T``, ``sample_weight`` moved to the namespace and device of the network.

    On numpy, they are returned as they are. Elsewhere, class indices ``T``
    become one-hot rows (the output layers' plain formulas read rows).
    """
    space = network.space
    if space is None:
        return X, T, sample_weight
    if T.ndim == 1:
        T = np.eye(network.layer_units[-1], dtype=X.dtype)[T]
    return space.put(X), space.put(T), space.put(sample_weight)
