"""scikit-learn's callbacks (``sklearn.callback``) in skbp's estimators.

Oracles: a model fitted without callbacks for exactly k epochs (what a
callback's per-epoch ``fitted_estimator`` must equal), the same fit without
callbacks (callbacks must not change training), and scikit-learn's own
``ScoringMonitor``, ``ProgressBar`` and meta-estimators.
"""

import copy
import importlib.util
import pickle
import subprocess
import sys
import threading
import tracemalloc
import warnings

import numpy as np
import pytest
from _helpers import PLAIN_SGD, flat_params, registered_solvers
from numpy.testing import assert_array_equal
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPClassifier, BPRegressor

callback = pytest.importorskip("sklearn.callback")
ScoringMonitor = callback.ScoringMonitor

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)


def small(gradient="backprop", **params):
    """A 4-3-3 classifier, plain SGD: a numerical epoch costs milliseconds."""
    return BPClassifier(
        (3,), gradient=gradient, random_state=0, **{**PLAIN_SGD, "batch_size": 50}
    ).set_params(**params)


class Recorder:
    """A callback that records each hook call: task, fitted estimator, stop."""

    def __init__(self, stop_after=None):
        self.calls = []
        self.models = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name))

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None,
                        fitted_estimator=None):  # fmt: skip
        self.calls.append(("end", context.task_name))
        if context.parent is not None:  # an epoch or iteration
            self.models.append(fitted_estimator)
            return self.stop_after is not None and len(self.models) >= self.stop_after
        return False

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name))


def quiet_fit(est, X, y, **kwargs):
    """Fit, silencing what fits stopped after a few epochs say on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "BPClassifier predicts only one class")
        return est.fit(X, y, **kwargs)


@pytest.mark.parametrize(
    "gradient, solver",
    [("backprop", "sgd"), ("numerical", "sgd"), ("backprop", "adam")],
)
def test_scoring_monitor_logs_one_row_per_epoch_equal_to_a_model_stopped_there(
    gradient, solver
):
    monitor = ScoringMonitor(scoring="accuracy")
    clf = small(gradient, solver=solver, max_iter=4).set_callbacks(monitor)
    quiet_fit(clf, X_IRIS, Y_IRIS)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == [0, 1, 2, 3]
    assert all(row["estimator_name"] == "BPClassifier" for row in epochs)
    for k, row in enumerate(epochs, start=1):
        stopped = quiet_fit(small(gradient, solver=solver, max_iter=k), X_IRIS, Y_IRIS)
        assert row["accuracy"] == stopped.score(X_IRIS, Y_IRIS)
    (root,) = [row for row in rows if row["task_name"] == "fit"]
    assert root["accuracy"] == clf.score(X_IRIS, Y_IRIS)


def test_lbfgs_iterations_are_the_subtasks():
    recorder = Recorder()
    clf = small(solver="lbfgs", max_iter=5).set_callbacks(recorder)
    quiet_fit(clf, X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 5
    assert recorder.calls.count(("end", "iteration")) == 5
    for k, model in enumerate(recorder.models, start=1):
        stopped = quiet_fit(small(solver="lbfgs", max_iter=k), X_IRIS, Y_IRIS)
        assert_array_equal(model.predict_proba(X_IRIS), stopped.predict_proba(X_IRIS))


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_callbacks_do_not_change_the_fit(gradient, early_stopping):
    params = dict(max_iter=5, early_stopping=early_stopping)
    plain = quiet_fit(small(gradient, **params), X_IRIS, Y_IRIS)
    watched = small(gradient, **params).set_callbacks(
        Recorder(), ScoringMonitor(scoring="accuracy")
    )
    quiet_fit(watched, X_IRIS, Y_IRIS)
    assert_array_equal(flat_params(watched), flat_params(plain))
    assert watched.loss_curve_ == plain.loss_curve_
    assert watched.validation_scores_ == plain.validation_scores_
    assert watched.n_iter_ == plain.n_iter_


def test_fitted_estimator_is_a_snapshot_of_its_epoch():
    recorder = Recorder()
    clf = small(max_iter=3).set_callbacks(recorder)
    quiet_fit(clf, X_IRIS, Y_IRIS)
    assert [m.n_iter_ for m in recorder.models] == [1, 2, 3]
    assert [len(m.loss_curve_) for m in recorder.models] == [1, 2, 3]
    assert not np.array_equal(flat_params(recorder.models[0]), flat_params(clf))
    assert_array_equal(flat_params(recorder.models[-1]), flat_params(clf))


@pytest.mark.parametrize("solver", registered_solvers())
def test_a_callback_can_stop_training(solver):
    recorder = Recorder(stop_after=2)
    clf = small(solver=solver, max_iter=50).set_callbacks(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopped, not max_iter
        clf.fit(X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert_array_equal(flat_params(clf), flat_params(recorder.models[-1]))
    assert clf.predict(X_IRIS).shape == Y_IRIS.shape
    assert ("teardown", "fit") in recorder.calls


def test_a_stop_with_early_stopping_keeps_the_best_epoch():
    recorder = Recorder(stop_after=4)
    clf = small(max_iter=50, early_stopping=True).set_callbacks(recorder)
    clf.fit(X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 4
    best = int(np.argmax(clf.validation_scores_))
    assert_array_equal(flat_params(clf), flat_params(recorder.models[best]))


def test_partial_fit_is_one_task():
    recorder = Recorder()
    clf = small().set_callbacks(recorder)
    clf.partial_fit(X_IRIS, Y_IRIS, classes=np.unique(Y_IRIS))
    assert recorder.calls == [
        ("setup", "partial_fit"),
        ("begin", "partial_fit"),
        ("end", "partial_fit"),
        ("teardown", "partial_fit"),
    ]


class Failing(Recorder):
    def on_fit_task_end(self, estimator, context):
        super().on_fit_task_end(estimator, context)
        if len(self.calls) > 4:
            raise RuntimeError("callback failed")


@pytest.mark.parametrize(
    "recorder, y, error",
    [
        (Recorder(), np.zeros(len(Y_IRIS)), "only one class"),  # before training
        (Failing(), Y_IRIS, "callback failed"),  # during the second epoch
    ],
)
def test_teardown_runs_when_fit_fails_and_the_estimator_is_unchanged(
    recorder, y, error
):
    clf = small(max_iter=3).set_callbacks(recorder)
    before = dict(vars(clf))
    with pytest.raises((ValueError, RuntimeError), match=error):
        clf.fit(X_IRIS, y)
    assert recorder.calls[-1] == ("teardown", "fit")
    assert vars(clf) == before  # nothing changed, no context left behind


class Pickler(Recorder):
    """Pickles the estimator and the fitted estimator in each hook."""

    pickled = []

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.pickled.append(pickle.loads(pickle.dumps(estimator)))
        self.pickled.append(pickle.loads(pickle.dumps(fitted_estimator)))


def test_nothing_of_a_running_fit_is_pickled():
    pickled = Pickler.pickled
    clf = small(max_iter=2).set_callbacks(Pickler())
    quiet_fit(clf, X_IRIS, Y_IRIS)
    for est in [*pickled, pickle.loads(pickle.dumps(clf))]:
        names = set(vars(est))
        assert not names & {
            "_callback_fit_ctx",
            "_skl_callbacks_to_teardown",
            "_parent_callback_ctx",
            "_fit_tasks",
        }
    assert not {"_callback_fit_ctx", "_fit_tasks"} & set(vars(clf))
    # Registered callbacks stay registered, as with scikit-learn's estimators.
    assert len(pickle.loads(pickle.dumps(clf))._skl_callbacks) == 1


def test_regressor_supports_callbacks():
    X, y = load_diabetes(return_X_y=True)
    X, y = StandardScaler().fit_transform(X), (y - y.mean()) / y.std()
    monitor = ScoringMonitor(scoring="r2")
    reg = BPRegressor((5,), solver="sgd", learning_rate_init=0.05, max_iter=3,
                      random_state=0).set_callbacks(monitor)  # fmt: skip
    quiet_fit(reg, X, y)
    epochs = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    assert len(epochs) == 3
    stopped = quiet_fit(reg.set_params(max_iter=2).set_callbacks(), X, y)
    assert epochs[1]["r2"] == stopped.score(X, y)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_propagates_to_the_estimator_in_its_pipeline(n_jobs):
    # A ScoringMonitor on the inner estimator logs every candidate's epochs,
    # placed in the grid's task tree, also from worker processes.
    monitor = ScoringMonitor(scoring="accuracy")
    pipe = make_pipeline(StandardScaler(), small(max_iter=2).set_callbacks(monitor))
    grid = GridSearchCV(
        pipe, {"bpclassifier__learning_rate_init": [0.05, 0.1]}, cv=2, n_jobs=n_jobs
    )
    if importlib.util.find_spec("rich") is not None:
        grid.set_callbacks(callback.ProgressBar(max_propagation_depth=None))
    quiet_fit(grid, X_IRIS, Y_IRIS)
    (log,) = monitor.get_logs(select="all")
    assert log.estimator_name == "GridSearchCV"
    epochs = [row for row in log.data if row["task_name"] == "epoch"]
    # 2 candidates x 2 folds, then the refit: 2 epochs each.
    assert len(epochs) == 5 * 2
    paths = {row["parent_task_id_path"] for row in epochs}
    assert len(paths) == 5  # one BPClassifier fit per candidate and fold, and refit
    refit = [row for row in epochs if row["task_id_path"][1] == 1]
    assert refit[-1]["accuracy"] == grid.best_estimator_.score(X_IRIS, Y_IRIS)


def test_progress_bar_shows_the_nested_fits(capsys):
    pytest.importorskip("rich")
    pipe = make_pipeline(StandardScaler(), small(max_iter=2))
    grid = GridSearchCV(pipe, {"bpclassifier__alpha": [0.0, 1e-3]}, cv=2)
    quiet_fit(grid.set_callbacks(callback.ProgressBar(max_propagation_depth=None)),
              X_IRIS, Y_IRIS)  # fmt: skip
    out = capsys.readouterr().out
    assert "BPClassifier - fit" in out and "GridSearchCV - fit" in out


def test_no_callbacks_no_context():
    clf = small(max_iter=2)
    quiet_fit(clf, X_IRIS, Y_IRIS)
    assert not {"_callback_fit_ctx", "_fit_tasks", "_skl_callbacks"} & set(vars(clf))


def test_older_scikit_learn_fits_and_says_callbacks_need_1_9():
    code = (
        # scikit-learn < 1.9 has no sklearn.callback (nor its names).
        "import sys, types, sklearn.datasets, sklearn.model_selection\n"
        "sys.modules['sklearn.callback'] = types.ModuleType('sklearn.callback')\n"
        "import warnings; warnings.simplefilter('ignore')\n"
        "from sklearn.datasets import load_iris\n"
        "from skbp import BPClassifier\n"
        "X, y = load_iris(return_X_y=True)\n"
        "clf = BPClassifier((3,), max_iter=2).fit(X, y)\n"
        "try:\n"
        "    clf.set_callbacks(object())\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "Callbacks need scikit-learn 1.9 or later" in out


def test_main_command_records_the_same_run_with_or_without_callbacks(
    monkeypatch, capsys
):
    import skbp.__main__ as cli

    def report(supported):
        monkeypatch.setattr(cli, "CALLBACKS_SUPPORTED", supported)
        # One epoch: later warm-started fits (the fallback) reshuffle afresh.
        args = ["--epochs", "1", "--hidden", "2", "--no-plot", "--no-equal-time"]
        assert cli.main(args) == 0
        out = capsys.readouterr()
        assert "numerical:   15/15 steps" in out.err and "ETA" in out.err
        rows = [line.split() for line in out.out.splitlines()]
        # method, steps, fit [s], per step [s], test accuracy, final loss:
        # all but times
        return [
            row[:2] + row[4:]
            for row in rows
            if row[:1] in (["backprop"], ["numerical"])
        ]

    assert report(True) == report(False)


# ------------------------------------------- the end of a fit, copies, threads ---


class FailingAtTheEnd(Recorder):
    """Raises in the root task's ``on_fit_task_end`` or in ``teardown``."""

    def __init__(self, hook):
        super().__init__()
        self.hook = hook

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if self.hook == "on_fit_task_end" and context.parent is None:
            raise RuntimeError("callback failed at the end")

    def teardown(self, estimator, context):
        if self.hook == "teardown":
            raise RuntimeError("callback failed at the end")


@pytest.mark.parametrize("hook", ["on_fit_task_end", "teardown"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("fitted", [False, True])
def test_a_callback_raising_at_the_very_end_leaves_the_estimator_as_it_was(
    hook, method, fitted
):
    clf = small(max_iter=3)
    if fitted:
        quiet_fit(clf, X_IRIS, Y_IRIS)
    clf.set_callbacks(FailingAtTheEnd(hook))
    before, params = dict(vars(clf)), fitted and flat_params(clf)
    kwargs = {"classes": np.unique(Y_IRIS)} if method == "partial_fit" else {}
    with pytest.raises(RuntimeError, match="at the end"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            getattr(clf, method)(X_IRIS, Y_IRIS, **kwargs)
    assert vars(clf) == before  # the same objects: nothing published
    if fitted:
        assert_array_equal(flat_params(clf), params)


class KeepsTheFittedEstimator(Recorder):
    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.parent is None:
            self.models.append(fitted_estimator)


def test_copies_do_not_share_the_parameters():
    keeper = KeepsTheFittedEstimator()
    clf = quiet_fit(small(max_iter=3).set_callbacks(keeper), X_IRIS, Y_IRIS)
    params = flat_params(clf)
    (at_the_end,) = keeper.models
    assert_array_equal(flat_params(at_the_end), params)  # the fitted model
    shallow = copy.copy(clf)
    for other in (at_the_end, shallow):
        other.coefs_ = [np.zeros_like(c) for c in other.coefs_]
        other.intercepts_ = [np.zeros_like(b) for b in other.intercepts_]
        assert not flat_params(other).any()
    assert_array_equal(flat_params(clf), params)  # as with MLPClassifier's copies


class SetsParamsDuringTheFit(Recorder):
    """In the second epoch, sets parameters on the estimator, here or from a thread."""

    def __init__(self, from_thread):
        super().__init__()
        self.from_thread = from_thread

    def on_fit_task_end(self, estimator, context):
        if context.task_id != 1 or context.parent is None:
            return

        def change():
            estimator.set_params(alpha=0.5, max_iter=7).set_callbacks()

        if self.from_thread:
            thread = threading.Thread(target=change)
            thread.start()
            thread.join()
        else:
            change()


@pytest.mark.parametrize("from_thread", [False, True])
def test_parameters_set_during_a_fit_stand(from_thread):
    clf = small(max_iter=4).set_callbacks(SetsParamsDuringTheFit(from_thread))
    quiet_fit(clf, X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 4  # the fit ran with the parameters it started with
    assert clf.get_params()["alpha"] == 0.5 and clf.max_iter == 7  # as MLP keeps
    assert not hasattr(clf, "_skl_callbacks")  # set_callbacks() stands too
    assert_array_equal(
        flat_params(clf), flat_params(quiet_fit(small(max_iter=4), X_IRIS, Y_IRIS))
    )


@pytest.mark.parametrize("repetition", range(4))
def test_threads_fitting_one_estimator_with_callbacks(repetition):
    # Each thread fits its own rows; the model left is one thread's, whole.
    monitor = ScoringMonitor(scoring="accuracy")
    clf = small(max_iter=3).set_callbacks(monitor)
    rows = [np.arange(k, len(Y_IRIS), 3) for k in range(3)]
    errors = []

    def fit(idx):
        try:
            clf.fit(X_IRIS[idx], Y_IRIS[idx])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(idx,)) for idx in rows]
    with warnings.catch_warnings():  # here: catch_warnings is not thread-safe
        warnings.simplefilter("ignore", ConvergenceWarning)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    alone = [quiet_fit(small(max_iter=3), X_IRIS[idx], Y_IRIS[idx]) for idx in rows]
    matches = [
        np.array_equal(flat_params(clf), flat_params(model))
        and clf.loss_curve_ == model.loss_curve_
        and clf.n_iter_ == model.n_iter_
        for model in alone
    ]
    assert sum(matches) == 1
    runs = monitor.get_logs(select="all")
    assert [sum(row["task_name"] == "epoch" for row in run.data) for run in runs] == [
        3
    ] * 3


def _peak_memory_of_every_epochs_copy(n_epochs):
    keeper = Recorder()
    reg = BPRegressor((2,), solver="sgd", max_iter=n_epochs, tol=0,
                      n_iter_no_change=n_epochs, random_state=0)  # fmt: skip
    X = X_IRIS[:20, :2]
    tracemalloc.start()
    try:
        quiet_fit(reg.set_callbacks(keeper), X, X[:, 0])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_keeping_every_epochs_copy_costs_memory_linear_in_the_epochs():
    # Each copy holding the history so far made the memory quadratic: the
    # ratio for twice the epochs was about 3 at these sizes, 2 when linear.
    small_run, large_run = (_peak_memory_of_every_epochs_copy(n) for n in (300, 600))
    assert large_run / small_run < 2.4


def test_an_epochs_copy_reads_its_history_as_lists():
    keeper = Recorder()
    clf = small(max_iter=4, early_stopping=True, n_iter_no_change=50)
    quiet_fit(clf.set_callbacks(keeper), X_IRIS, Y_IRIS)
    names = ("loss_curve_", "validation_scores_", "validation_loss_curve_")
    expected = {name: list(getattr(clf, name)) for name in names}
    for name in names:  # the fitted model's lists are its own too
        getattr(clf, name).clear()
    for k, model in enumerate(keeper.models, start=1):
        for name in names:
            history = getattr(model, name)
            assert type(history) is list and history == expected[name][:k]
        unpickled = pickle.loads(pickle.dumps(model))
        assert type(vars(unpickled)["loss_curve_"]) is list
    keeper.models[0].loss_curve_.append(0.0)  # a copy's list is its own
    assert len(keeper.models[1].loss_curve_) == 2


def test_lbfgs_iteration_copies_report_their_history():
    recorder = Recorder()
    clf = small(solver="lbfgs", max_iter=4).set_callbacks(recorder)
    quiet_fit(clf, X_IRIS, Y_IRIS)
    for k, model in enumerate(recorder.models, start=1):
        stopped = quiet_fit(small(solver="lbfgs", max_iter=k), X_IRIS, Y_IRIS)
        for name in ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_"):
            assert getattr(model, name) == getattr(stopped, name), name
        assert model.n_iter_ == k and len(model.loss_curve_) == k


class FailingSetup(Recorder):
    def setup(self, estimator, context):
        super().setup(estimator, context)
        raise RuntimeError("setup failed")


def test_a_failing_setup_is_torn_down_as_scikit_learn_does():
    recorder = FailingSetup()
    clf = small(max_iter=2).set_callbacks(recorder)
    before = dict(vars(clf))
    with pytest.raises(RuntimeError, match="setup failed"):
        clf.fit(X_IRIS, Y_IRIS)
    assert recorder.calls == [("setup", "fit"), ("teardown", "fit")]
    assert vars(clf) == before
