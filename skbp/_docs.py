"""The documentation both estimators share, written once.

Each estimator's class docstring is ``estimator_doc(...)``: its own
introduction, parameters, attributes and examples around the parameters and
attributes of ``BaseBP``, with the few words that differ (its scikit-learn
peer, its early-stopping score) filled in. numpydoc and Sphinx read the result
as any docstring.
"""

import textwrap
from string import Template

from .network import ACTIVATIONS
from .optimizers import SOLVERS, stochastic_solvers

_PARAMETERS = Template("""\
    hidden_layer_sizes : array-like of int, default=(100,)
        Number of units of each hidden layer; ``(50,)`` with the logistic
        activation is the reference experiment's ``Affine -> Sigmoid ->
        Affine`` network.
$activation_entry$own_parameters\
$solver_entry    gradient : {"backprop", "numerical"}, default="backprop"
        How the gradient of the loss is computed, for every solver.
    alpha : float, default=0.0001
        L2 penalty: the loss gains ``0.5 * alpha * sum(W**2) / sum(w)``
        (``sum(w)`` is the batch's total sample weight, its size when
        unweighted), so both gradients see it.
    dropout : float or sequence of float, default=0.0
        Inverted dropout on each hidden layer's output while training: each
        unit is zeroed with this probability and the others are scaled by
        ``1 / (1 - dropout)``; one rate for every hidden layer, or one per
        hidden layer, each in [0, 1). A mask is drawn from ``random_state``
        for each mini-batch step and held for every forward pass the step
        makes, so both gradients differentiate the same function.
        ``predict``, scores, validation and exports never drop. Needs
        $stochastic: L-BFGS minimises one fixed function, which new masks
        would change under its line search. 0 draws nothing: the fit is the
        one without the parameter.
    batch_size : int or "auto", default="auto"
        Samples per mini-batch, clipped to the number of samples; ``"auto"``
        is ``min(200, n_samples)``. Ignored by $full_batch.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        SGD schedule. ``"invscaling"``: ``learning_rate_init / (t + 1) **
        power_t`` after each epoch, ``t`` the samples seen. ``"adaptive"``:
        divide the rate by 5 each time the stopping rule triggers, stopping
        only once it falls below 1e-6.
    learning_rate_init : float, default=0.001
        Initial step size of $stochastic.
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.
    max_iter : int, default=200
        Epochs for $stochastic, iterations for $full_batch.
    shuffle : bool, default=True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the early-stopping split and shuffling.
        With an int each ``fit`` starts the stream anew, as in scikit-learn.
    tol : float, default=1e-4
        Improvement needed, in training loss (or validation score with
        early stopping), for an epoch to count as progress.
    verbose : int, default=0
        If positive, print one line per epoch (``Iteration N, loss = ...``,
        the validation score, seconds), and before a numerical fit what one
        step costs.
    warm_start : bool, default=False
        If True, ``fit`` continues from the previous solution.
    momentum : float, default=0.9
        SGD momentum, in [0, 1].
    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum (with ``momentum > 0``).
    early_stopping : bool, default=False
        Hold out a ``validation_fraction`` of the training data$split and
        stop when the held-out $score stops improving by ``tol`` for
        ``n_iter_no_change`` epochs (or the score ``scoring`` names); the
        best parameters seen are restored. Each ``fit`` call starts its own
        stopping state. Ignored by $full_batch, as in scikit-learn.
    validation_fraction : float, default=0.1
        Fraction held out for early stopping, in (0, 1).
    scoring : str, callable or None, default=None
        What early stopping watches on the held-out rows. None: the
        $score. ``"loss"``: the validation loss (lower is better:
        training stops when it has not fallen by ``tol`` for
        ``n_iter_no_change`` epochs, and the epoch of the lowest is kept).
        Any scikit-learn scorer name or callable
        ``scorer(estimator, X_val, y_val)`` (given ``sample_weight=`` when
        weighted), called with the model of each epoch: higher is better.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates, in [0, 1).
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping; ``np.inf`` never stops
        early, so training runs ``max_iter`` epochs (and warns that it did not
        converge, as ``$peer`` does).
    max_fun : int, default=15000
        Maximum loss evaluations of ``"lbfgs"``.
    weight_init_std : float or None, default=None
        None draws weights and biases from the Glorot-uniform distribution
        that ``$peer`` uses: ``U(-r, r)`` with ``r = sqrt(k / (fan_in
        + fan_out))``, ``k = 2`` for logistic units and 6 otherwise. A float
        ``s`` draws weights from ``N(0, s**2)`` and zero biases, as the
        reference experiment does with ``s = 0.01``. With such a small ``s``
        the loss can sit on a plateau for many epochs first; where it falls
        by less than ``tol`` per epoch (small or full-batch steps) the
        ``tol``/``n_iter_no_change`` rule mistakes it for convergence: set
        ``n_iter_no_change=np.inf`` to train a fixed number of epochs.
    numerical_step : float, default=1e-4
        Step ``h`` of the central difference of ``gradient="numerical"``.
""")


def _names(names, sep=" and "):
    """``"a"``, ``"b"`` and ``"c"`` (numpydoc literals)."""
    quoted = [f'``"{name}"``' for name in names]
    return ", ".join(quoted[:-1]) + sep + quoted[-1] if len(quoted) > 1 else quoted[0]


def _paragraph(text):
    """``text`` wrapped as the body of a numpydoc entry (8 spaces)."""
    indent = " " * 8
    wrapped = textwrap.fill(
        text,
        79,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )
    return wrapped + "\n"


def choice_doc(parameter, docs, default, intro="", outro=""):
    """A numpydoc entry for a string ``parameter`` whose values ``docs`` describes.

    ``docs`` maps each value to its description (a registry's doc text);
    ``intro`` and ``outro`` are sentences around the list.
    """
    names = ", ".join(f'"{name}"' for name in docs)
    body = "; ".join(f'``"{name}"``: {doc}' for name, doc in docs.items())
    text = " ".join(part for part in (intro, body + ".", outro) if part)
    return f'    {parameter} : {{{names}}}, default="{default}"\n' + _paragraph(text)


def _registry_words():
    """The entries of ``_PARAMETERS`` and the words that list registry names."""
    stochastic = stochastic_solvers()
    full_batch = [name for name in SOLVERS if name not in stochastic]
    activations = {name: entry.doc for name, entry in ACTIVATIONS.items()}
    solvers = {name: entry.doc for name, entry in SOLVERS.items()}
    return dict(
        activation_entry=choice_doc(
            "activation", activations, "logistic", intro="Hidden-layer activation."
        ),
        solver_entry=choice_doc(
            "solver",
            solvers,
            "adam",
            outro=f"{_names(stochastic)} train on mini-batches (and offer "
            "``partial_fit``).",
        ),
        stochastic=_names(stochastic),
        full_batch=_names(full_batch, " or "),
    )


_ATTRIBUTES = Template("""\
$own_attributes\
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``; only when ``X`` has string
        column names.
    coefs_ : list of ndarray
        Weight matrix of each layer, ``coefs_[i]`` of shape
        ``(layer_units[i], layer_units[i + 1])``. Views into one flat
        parameter vector: assigning arrays of the same shapes
        (``est.coefs_ = [...]`` or ``est.coefs_[i] = ...``) changes the model.
    intercepts_ : list of ndarray
        Bias vector of each layer, views into the same flat vector.
    n_iter_ : int
        Epochs (or L-BFGS iterations) run by the latest ``fit`` call, also
        under ``warm_start``; 1 after ``partial_fit``.
    t_ : int
        Number of training samples seen, over all calls.
    loss_ : float
        Training loss of the last epoch (or the L-BFGS optimum).$loss_note
    loss_curve_ : list of float
        Training loss of each epoch, or of each L-BFGS iteration, over all
        calls.
    best_loss_ : float or None
        Lowest training loss so far: over the calls that continued training
        (``warm_start``, ``partial_fit``) without early stopping, as
        ``MLPClassifier``; None with early stopping.
    validation_scores_ : list of float or None
        Held-out score after each epoch with early stopping (the $score,
        the validation loss or the score ``scoring`` names), else None.
    validation_loss_curve_ : list of float or None
        Held-out loss after each epoch with early stopping, else None: the
        loss of ``loss_curve_`` (the same L2 term, the same sample weights) on
        the held-out rows.
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (the lowest with ``scoring="loss"``)
        with early stopping, else None.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        $n_outputs
    out_activation_ : str
        $out_activation
""")


_GRADIENT_PARAGRAPH = """\
    ``gradient`` chooses how the gradient of the loss is computed: by
    backpropagation through the layers, or by central differences of the loss
    (two forward passes per parameter). For the same ``random_state`` both draw
    the same initial weights and the same batches, so their fits agree to
    finite-difference precision and differ only in time.
"""


def estimator_doc(
    intro,
    *,
    own_parameters,
    own_attributes,
    peer,
    score,
    split,
    loss_note,
    n_outputs,
    out_activation,
    sibling,
    examples,
):
    """Return a class docstring: ``intro``, the shared sections, then ``examples``.

    The paragraph on ``gradient`` follows the second paragraph of ``intro``
    (the network).

    ``own_parameters`` and ``own_attributes`` are numpydoc entries (indented
    four spaces, ending with a newline); the other arguments are the words
    that differ between estimators.
    """
    words = dict(peer=peer, score=score, split=split)
    parameters = _PARAMETERS.substitute(
        own_parameters=own_parameters, **words, **_registry_words()
    )
    attributes = _ATTRIBUTES.substitute(
        own_attributes=own_attributes,
        loss_note=loss_note,
        n_outputs=n_outputs,
        out_activation=out_activation,
        **words,
    )
    summary, network, rest = intro.split("\n\n", 2)
    return (
        f"{summary}\n\n{network}\n\n{_GRADIENT_PARAGRAPH}\n{rest}\n"
        "    Parameters\n    ----------\n"
        f"{parameters}\n"
        "    Attributes\n    ----------\n"
        f"{attributes}\n"
        "    See Also\n    --------\n"
        f"    sklearn.neural_network.{peer} : scikit-learn's multi-layer perceptron.\n"
        f"    skbp.{sibling} : the other estimator built from the same layers.\n"
        "    skbp.gradient_check : compare the two gradients at a model's "
        "parameters.\n\n"
        f"{examples}"
    )
