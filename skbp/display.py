"""``TrainingCurveDisplay``: training loss (and validation score) against epochs."""

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

# Label of the twin axes holding validation scores, so that later calls with the
# same ``ax`` find and reuse it instead of stacking a new twin each time.
_VALIDATION_AXES_LABEL = "skbp validation scores"

# Marks validation-loss lines, which share the axes of the training losses.
_VALIDATION_LOSS_GID = "skbp validation loss"

# The n-th estimator drawn on one axes gets the n-th style (cycling), on top of
# the colour cycle: curves that coincide, as backprop's and numerical's do, stay
# visible as a thick line with large markers under a thin one with small ones.
_CURVE_STYLES = (
    {"linewidth": 4.0, "marker": "o", "markersize": 8},
    {"linewidth": 1.5, "marker": "s", "markersize": 4},
    {"linewidth": 1.0, "marker": "^", "markersize": 5},
    {"linewidth": 1.0, "marker": "x", "markersize": 6},
)
# Markers on at most about this many epochs of a curve.
_MAX_MARKERS = 20


def _pyplot(caller):
    """Import ``matplotlib.pyplot``, or say how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, which is not installed. Install it with "
            '`pip install matplotlib` (or `pip install "skbp[plot]"`).'
        ) from exc
    return plt


class TrainingCurveDisplay:
    """Training-curve visualisation: loss and validation score per epoch.

    Draws an estimator's ``loss_curve_`` against epochs (L-BFGS iterations for
    ``solver="lbfgs"``) and, when the estimator recorded them (with
    ``early_stopping=True``), its ``validation_loss_curve_`` beside it on the
    same axis, dotted, and its validation scores (``validation_scores_``:
    accuracy, or what ``scoring`` names) on a second y-axis sharing the
    epochs, dashed, each in the colour of its loss curve. Several fitted
    estimators, for example the same network trained with
    ``gradient="backprop"`` and ``gradient="numerical"``, are compared on one
    axes by calling :meth:`from_estimator` once for each with the same
    ``ax``: the validation axis and the legend are shared, not duplicated,
    and each estimator gets its own colour, line width and marker,
    so curves that coincide stay distinguishable (the first thick with large
    markers, the next thin with small ones on top of it).

    The legend sits below the axes, under the x-axis label, so that it never
    covers a curve. A figure created by the display uses matplotlib's
    constrained layout to make room for it; on axes of your own, call
    ``fig.tight_layout()`` (or create the figure with ``layout="constrained"``).

    Create it with :meth:`from_estimator`; all attributes are stored in the
    display. matplotlib is needed only to plot (``pip install matplotlib``).

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss after each epoch (or iteration).
    validation_scores : array-like of shape (n_epochs,), default=None
        Validation score after each epoch; None draws no validation curve.
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        Loss on the held-out rows after each epoch, drawn on the loss axis;
        None draws none.
    score_name : str, default="accuracy"
        What the validation scores are, for the axis label and legend
        ("validation accuracy").
    name : str, default=None
        Name of the curve, used in the legend labels.
    x_label : str, default="Epoch"
        Label of the x-axis.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The training-loss curve.
    validation_loss_line_ : matplotlib.lines.Line2D or None
        The validation-loss curve, or None without a validation loss.
    validation_line_ : matplotlib.lines.Line2D or None
        The validation-score curve, or None without validation scores.
    ax_ : matplotlib.axes.Axes
        Axes of the loss curve.
    validation_ax_ : matplotlib.axes.Axes or None
        Twin axes of the validation scores (shared by every display plotted on
        ``ax_``), or None if none of them has validation scores.
    figure_ : matplotlib.figure.Figure
        Figure containing the curves.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : scores against training-set
        size, across refits.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skbp import BPClassifier, TrainingCurveDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> X, y = X[:300], y[:300]
    >>> params = dict(early_stopping=True, n_iter_no_change=np.inf, random_state=0)
    >>> fig, ax = plt.subplots()
    >>> for gradient in ["backprop", "numerical"]:
    ...     clf = BPClassifier((5,), gradient=gradient, max_iter=8, **params)
    ...     clf = clf.fit(X, y)
    ...     disp = TrainingCurveDisplay.from_estimator(clf, ax=ax, name=gradient)
    >>> labels = [line.get_label() for line in disp.ax_.get_lines()]
    >>> labels  # doctest: +NORMALIZE_WHITESPACE
    ['backprop: training loss', 'backprop: validation loss',
     'numerical: training loss', 'numerical: validation loss']
    >>> [line.get_label() for line in disp.validation_ax_.get_lines()]
    ['backprop: validation accuracy', 'numerical: validation accuracy']
    >>> plt.show()  # doctest: +SKIP
    >>> plt.close(fig)
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_scores=None,
        name=None,
        x_label="Epoch",
        score_name="accuracy",
        validation_loss_curve=None,
    ):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.validation_loss_curve = validation_loss_curve
        self.name = name
        self.x_label = x_label
        self.score_name = score_name

    def plot(self, ax=None, *, name=None, loss_kwargs=None, validation_kwargs=None):
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; None creates a new figure (constrained layout)
            and axes. Pass the axes of an earlier display to draw on the same
            plot.
        name : str, default=None
            Name for the legend labels; None uses the display's ``name``.
        loss_kwargs : dict, default=None
            Keyword arguments for :meth:`matplotlib.axes.Axes.plot` of the
            loss curve, overriding the defaults (the next colour, and the line
            width and marker of the n-th estimator on these axes).
        validation_kwargs : dict, default=None
            Keyword arguments for the validation-score curve, which by default
            takes the loss curve's colour, width and marker and a dashed line.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with ``line_``, ``ax_``, ``figure_`` and the
            validation attributes set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        from matplotlib.ticker import MaxNLocator

        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        name = self.name if name is None else name
        prefix = "" if name is None else f"{name}: "

        loss = np.asarray(self.loss_curve, dtype=float)
        n_drawn = sum(line.get_gid() != _VALIDATION_LOSS_GID for line in ax.get_lines())
        style = dict(_CURVE_STYLES[n_drawn % len(_CURVE_STYLES)])
        style["markevery"] = max(1, -(-loss.size // _MAX_MARKERS))
        (self.line_,) = ax.plot(
            np.arange(1, loss.size + 1),
            loss,
            **{"label": f"{prefix}training loss", **style, **(loss_kwargs or {})},
        )
        ax.set_xlabel(self.x_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("Training loss")
        self.validation_loss_line_ = None
        if self.validation_loss_curve is not None and len(self.validation_loss_curve):
            validation_loss = np.asarray(self.validation_loss_curve, dtype=float)
            (self.validation_loss_line_,) = ax.plot(
                np.arange(1, validation_loss.size + 1),
                validation_loss,
                **{
                    **style,
                    "label": f"{prefix}validation loss",
                    "gid": _VALIDATION_LOSS_GID,
                    "color": self.line_.get_color(),
                    "linestyle": ":",
                    "markevery": max(1, -(-validation_loss.size // _MAX_MARKERS)),
                    **(loss_kwargs or {}),
                },
            )
            ax.set_ylabel("Loss")

        self.validation_ax_ = _find_validation_axes(ax)
        self.validation_line_ = None
        if self.validation_scores is not None and len(self.validation_scores):
            if self.validation_ax_ is None:
                self.validation_ax_ = ax.twinx()
                self.validation_ax_.set_label(_VALIDATION_AXES_LABEL)
                self.validation_ax_.set_ylabel(f"Validation {self.score_name}")
            scores = np.asarray(self.validation_scores, dtype=float)
            line = self.line_
            (self.validation_line_,) = self.validation_ax_.plot(
                np.arange(1, scores.size + 1),
                scores,
                **{
                    "label": f"{prefix}validation {self.score_name}",
                    "color": line.get_color(),
                    "linewidth": line.get_linewidth(),
                    "marker": line.get_marker(),
                    "markersize": line.get_markersize(),
                    "markevery": max(1, -(-scores.size // _MAX_MARKERS)),
                    "linestyle": "--",
                    **(validation_kwargs or {}),
                },
            )
        _update_legend(ax, self.validation_ax_)

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, *, ax=None, name=None, loss_kwargs=None, validation_kwargs=None
    ):
        """Plot the training curves of a fitted estimator.

        Parameters
        ----------
        estimator : estimator instance
            A fitted :class:`~skbp.BPClassifier`, or any fitted estimator with
            a ``loss_curve_`` (such as
            :class:`~sklearn.neural_network.MLPClassifier`), or a
            :class:`~sklearn.pipeline.Pipeline` ending in one.
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; None creates a new figure and axes. Pass the same
            axes for each estimator to compare them on one plot.
        name : str, default=None
            Name for the legend labels. None uses the class name, followed for
            a ``BPClassifier`` by its ``gradient``, e.g.
            ``"BPClassifier (numerical)"``.
        loss_kwargs : dict, default=None
            Keyword arguments for the loss curve's
            :meth:`matplotlib.axes.Axes.plot`.
        validation_kwargs : dict, default=None
            Keyword arguments for the validation-score curve.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, plotted.
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        if hasattr(estimator, "steps"):  # a Pipeline: its final step learned
            estimator = estimator[-1]
        check_is_fitted(estimator)
        if getattr(estimator, "loss_curve_", None) is None:
            raise ValueError(
                f"{type(estimator).__name__} has no loss_curve_ to plot: "
                "TrainingCurveDisplay needs an estimator that records its "
                "training loss, such as BPClassifier or MLPClassifier."
            )
        if name is None:
            name = type(estimator).__name__
            if isinstance(getattr(estimator, "gradient", None), str):
                name += f" ({estimator.gradient})"
        lbfgs = getattr(estimator, "solver", None) == "lbfgs"
        scoring = getattr(estimator, "scoring", None)
        validation_scores = getattr(estimator, "validation_scores_", None)
        if scoring is None:  # a classifier's score is its accuracy; a regressor's R²
            score_name = "accuracy" if is_classifier(estimator) else "score (R²)"
        elif scoring == "loss":  # the scores are the validation loss: drawn once
            score_name, validation_scores = "loss", None
        else:
            score_name = scoring if isinstance(scoring, str) else "score"
        display = cls(
            loss_curve=estimator.loss_curve_,
            validation_scores=validation_scores,
            validation_loss_curve=getattr(estimator, "validation_loss_curve_", None),
            name=name,
            x_label="Iteration (L-BFGS)" if lbfgs else "Epoch",
            score_name=score_name,
        )
        return display.plot(
            ax=ax, loss_kwargs=loss_kwargs, validation_kwargs=validation_kwargs
        )


def _find_validation_axes(ax):
    """The twin axes of validation scores made earlier for ``ax``, or None."""
    for other in ax.figure.axes:
        if (
            other is not ax
            and other.get_label() == _VALIDATION_AXES_LABEL
            and other.get_shared_x_axes().joined(other, ax)
        ):
            return other
    return None


def _legend_offset(ax):
    """Points from the bottom of ``ax`` to below its tick labels and x label."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    def points(size):
        return FontProperties(size=size).get_size_in_points()

    tick = rcParams["xtick.major.size"] + rcParams["xtick.major.pad"]
    # Text lines are about 1.2 font sizes high.
    text = 1.2 * (
        points(rcParams["xtick.labelsize"]) + points(rcParams["axes.labelsize"])
    )
    return tick + rcParams["axes.labelpad"] + text + 2


def _update_legend(ax, validation_ax):
    """One legend for the curves of both y-axes, below the axes, off the curves.

    Inside the axes the legend would cover curves: ``loc="best"`` only avoids
    the lines of the axes the legend belongs to, not those of its twin.
    """
    from matplotlib.transforms import offset_copy

    handles, labels = ax.get_legend_handles_labels()
    top = ax
    if validation_ax is not None:
        more_handles, more_labels = validation_ax.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
        top = validation_ax
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    top.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0),
        bbox_transform=offset_copy(
            ax.transAxes, fig=ax.figure, y=-_legend_offset(ax), units="points"
        ),
        # Two columns (loss, validation) while they fit beside each other.
        ncols=min(2, len(handles)) if max(map(len, labels)) <= 32 else 1,
        borderaxespad=0,
    )
