"""TrainingCurveDisplay draws the expected lines, labels and legend (Agg backend)."""

import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPClassifier, TrainingCurveDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits_300_unit():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


def fitted(X, y, **params):
    # A short run of plain SGD that learns something in 6 epochs on [0, 1] pixels.
    params = {
        "solver": "sgd",
        "learning_rate_init": 1.0,
        "momentum": 0.0,
        "batch_size": 32,
        "max_iter": 6,
        "n_iter_no_change": np.inf,
        "random_state": 0,
        **params,
    }
    return BPClassifier((5,), **params).fit(X, y)


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_loss_curve_only(digits_300_unit):
    clf = fitted(*digits_300_unit)
    disp = TrainingCurveDisplay.from_estimator(clf)

    assert disp.ax_.get_lines() == [disp.line_]
    np.testing.assert_array_equal(disp.line_.get_xdata(), np.arange(1, 7))
    np.testing.assert_array_equal(disp.line_.get_ydata(), clf.loss_curve_)
    assert disp.line_.get_label() == "BPClassifier (backprop): training loss"
    assert disp.ax_.get_xlabel() == "Epoch"
    assert disp.ax_.get_ylabel() == "Training loss"
    assert legend_texts(disp.ax_) == ["BPClassifier (backprop): training loss"]
    assert disp.validation_line_ is None and disp.validation_ax_ is None
    assert disp.figure_ is disp.ax_.figure
    assert disp.figure_.axes == [disp.ax_]


def test_validation_scores_on_a_twin_axis(digits_300_unit):
    clf = fitted(*digits_300_unit, early_stopping=True)
    disp = TrainingCurveDisplay.from_estimator(clf, name="bp")

    val_ax, val_line = disp.validation_ax_, disp.validation_line_
    assert disp.figure_.axes == [disp.ax_, val_ax]
    assert val_ax.get_lines() == [val_line]
    np.testing.assert_array_equal(val_line.get_ydata(), clf.validation_scores_)
    np.testing.assert_array_equal(val_line.get_xdata(), np.arange(1, 7))
    assert val_ax.get_ylabel() == "Validation accuracy"
    assert val_ax.get_xlim() == disp.ax_.get_xlim()  # shares the epochs
    assert val_line.get_color() == disp.line_.get_color()
    assert val_line.get_linestyle() == "--"
    # One legend with both curves, on the axes drawn on top.
    assert disp.ax_.get_legend() is None
    assert legend_texts(val_ax) == [
        "bp: training loss",
        "bp: validation loss",  # on the loss axis, dotted
        "bp: validation accuracy",
    ]


def test_backprop_and_numerical_on_one_axes(digits_300_unit):
    fig, ax = plt.subplots()
    displays = {}
    for gradient in ("backprop", "numerical"):
        clf = fitted(*digits_300_unit, gradient=gradient, early_stopping=True)
        displays[gradient] = TrainingCurveDisplay.from_estimator(clf, ax=ax)
    bp, num = displays["backprop"], displays["numerical"]

    assert bp.ax_ is num.ax_ is ax and bp.figure_ is fig
    assert fig.axes == [ax, bp.validation_ax_]  # one twin axis, reused
    assert num.validation_ax_ is bp.validation_ax_
    assert ax.get_lines() == [
        bp.line_,
        bp.validation_loss_line_,
        num.line_,
        num.validation_loss_line_,
    ]
    assert bp.validation_ax_.get_lines() == [bp.validation_line_, num.validation_line_]
    assert bp.line_.get_color() != num.line_.get_color()
    assert legend_texts(bp.validation_ax_) == [
        "BPClassifier (backprop): training loss",
        "BPClassifier (backprop): validation loss",
        "BPClassifier (numerical): training loss",
        "BPClassifier (numerical): validation loss",
        "BPClassifier (backprop): validation accuracy",
        "BPClassifier (numerical): validation accuracy",
    ]
    assert ax.get_legend() is None
    # Same batches, same model: the two curves lie on top of each other.
    np.testing.assert_allclose(
        bp.line_.get_ydata(), num.line_.get_ydata(), rtol=1e-6, atol=0
    )


def test_coinciding_curves_stay_distinguishable(digits_300_unit):
    # Backprop and numerical draw the same curve: the one drawn later must not
    # hide the earlier one. It is thinner, with smaller markers of another
    # shape, so the earlier curve shows around it; validation lines follow
    # their loss line's style.
    fig, ax = plt.subplots()
    displays = [
        TrainingCurveDisplay.from_estimator(
            fitted(*digits_300_unit, gradient=gradient, early_stopping=True), ax=ax
        )
        for gradient in ("backprop", "numerical")
    ]
    first, second = (d.line_ for d in displays)
    assert first.get_linewidth() > 2 * second.get_linewidth()
    assert first.get_markersize() > second.get_markersize() > 0
    assert first.get_marker() != second.get_marker()
    assert first.get_color() != second.get_color()
    for disp in displays:
        val = disp.validation_line_
        assert val.get_linewidth() == disp.line_.get_linewidth()
        assert val.get_marker() == disp.line_.get_marker()
        assert val.get_linestyle() == "--" and disp.line_.get_linestyle() == "-"
    # Drawn in order: the thin curve on top of the thick one.
    assert [line for line in ax.get_lines() if line.get_linestyle() == "-"] == [
        first,
        second,
    ]


def test_styles_cycle_and_markers_thin_out():
    fig, ax = plt.subplots()
    lines = [
        TrainingCurveDisplay(loss_curve=np.linspace(2, 1, 100)).plot(ax=ax).line_
        for _ in range(5)
    ]
    assert len({line.get_marker() for line in lines[:4]}) == 4
    assert lines[4].get_marker() == lines[0].get_marker()  # the cycle restarts
    assert lines[0].get_markevery() == 5  # about 20 markers on 100 epochs
    # Explicit keyword arguments win over the automatic style.
    disp = TrainingCurveDisplay(loss_curve=[2.0, 1.0]).plot(
        ax=ax, loss_kwargs={"linewidth": 7, "marker": "None"}
    )
    assert disp.line_.get_linewidth() == 7 and disp.line_.get_marker() == "None"


def _extent(artist, renderer):
    return artist.get_window_extent(renderer)


@pytest.mark.parametrize("own_axes", [False, True])
def test_legend_is_below_the_axes_off_the_curves(digits_300_unit, own_axes):
    if own_axes:
        fig, ax = plt.subplots(figsize=(5, 3.5))
    else:
        ax = None
    for gradient in ("backprop", "numerical"):
        clf = fitted(*digits_300_unit, gradient=gradient, early_stopping=True)
        disp = TrainingCurveDisplay.from_estimator(clf, ax=ax)
        ax = disp.ax_
    fig = disp.figure_
    if own_axes:
        fig.tight_layout()  # as the docstring says, on axes of your own
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = disp.validation_ax_.get_legend()
    box = _extent(legend, renderer)
    # Not over the plotting area of either y-axis, nor over the x label or
    # the tick labels, and inside the figure.
    for axes in (ax, disp.validation_ax_):
        assert not box.overlaps(axes.get_window_extent(renderer))
    assert not box.overlaps(_extent(ax.xaxis.label, renderer))
    for label in ax.get_xticklabels():
        if label.get_text():
            assert not box.overlaps(_extent(label, renderer))
    assert box.y1 < ax.get_window_extent(renderer).y0
    assert box.y0 >= 0 and box.x0 >= 0 and box.x1 <= fig.bbox.width
    # Every curve is in the legend.
    assert len(legend.get_texts()) == 6  # training and validation loss, accuracy


def test_validation_axis_says_validation_accuracy(digits_300_unit):
    disp = TrainingCurveDisplay.from_estimator(
        fitted(*digits_300_unit, early_stopping=True)
    )
    assert disp.validation_ax_.get_ylabel() == "Validation accuracy"
    assert disp.validation_line_.get_label().endswith("validation accuracy")
    # Arrays of another score can say what they are.
    disp = TrainingCurveDisplay(
        loss_curve=[1.0, 0.5], validation_scores=[0.1, 0.2], score_name="R²"
    ).plot()
    assert disp.validation_ax_.get_ylabel() == "Validation R²"


def test_lbfgs_pipeline_and_mlpclassifier(digits_300_unit):
    X, y = digits_300_unit
    pipe = make_pipeline(
        StandardScaler(), BPClassifier((5,), solver="lbfgs", max_iter=5)
    ).fit(X, y)
    disp = TrainingCurveDisplay.from_estimator(pipe)
    assert disp.ax_.get_xlabel() == "Iteration (L-BFGS)"
    np.testing.assert_array_equal(disp.line_.get_ydata(), pipe[-1].loss_curve_)

    mlp = MLPClassifier((5,), max_iter=5, early_stopping=True, random_state=0)
    disp = TrainingCurveDisplay.from_estimator(mlp.fit(X, y), ax=disp.ax_)
    assert disp.line_.get_label() == "MLPClassifier: training loss"
    assert disp.validation_line_.get_label() == "MLPClassifier: validation accuracy"


def test_plot_from_arrays_with_kwargs():
    disp = TrainingCurveDisplay(
        loss_curve=[2.0, 1.0, 0.5], validation_scores=[0.5, 0.7, 0.8], x_label="Step"
    )
    assert disp.plot(loss_kwargs={"color": "red"}) is disp
    assert disp.line_.get_label() == "training loss"  # no name, no prefix
    assert disp.line_.get_color() == "red"
    assert disp.validation_line_.get_color() == "red"
    assert disp.ax_.get_xlabel() == "Step"

    fig, ax = plt.subplots()
    disp.plot(ax=ax, name="again", validation_kwargs={"linestyle": ":"})
    assert disp.ax_ is ax and disp.figure_ is fig
    assert disp.validation_line_.get_linestyle() == ":"
    assert disp.validation_line_.get_label() == "again: validation accuracy"


def test_errors(digits_300_unit, monkeypatch):
    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(BPClassifier())
    with pytest.raises(ValueError, match="has no loss_curve_"):
        TrainingCurveDisplay.from_estimator(StandardScaler().fit(digits_300_unit[0]))

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="needs matplotlib.*pip install matplotlib"):
        TrainingCurveDisplay.from_estimator(fitted(*digits_300_unit))
    with pytest.raises(ImportError, match=r"TrainingCurveDisplay\.plot needs"):
        TrainingCurveDisplay(loss_curve=[1.0]).plot()


def test_training_curves_example(tmp_path):
    from test_examples import check_figure, run_example

    figure = tmp_path / "curves.png"
    stdout = run_example(
        "plot_training_curves.py",
        *("--n-samples", "300", "--epochs", "3", "--output", str(figure)),
    )
    assert "numerical: 3 epochs" in stdout
    assert "largest difference between the two loss curves" in stdout
    check_figure(stdout, figure)
