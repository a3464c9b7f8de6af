"""ONNX export: ``import skbp.onnx`` teaches skl2onnx to convert skbp's estimators.

Importing this module registers a converter for :class:`~skbp.BPClassifier`
(and for ``BPRegressor`` when skbp has one) with skl2onnx, so that
``skl2onnx.to_onnx`` converts a fitted estimator, alone or as the last step
of a :class:`~sklearn.pipeline.Pipeline`, into a graph that ``onnxruntime``
(or any ONNX runtime) runs without Python. It needs the ``onnx`` extra:
``pip install "skbp[onnx]"``.

The graph is the fitted network's forward pass, one ``MatMul -> Add ->
activation`` per layer, then its output layer; it is read from the fitted
network (its weights, activation and output), never from the current
hyperparameters, so it computes what ``predict`` computes even after
``set_params``. By output:

- softmax (three classes or more): probabilities ``Softmax(z)``, labels
  ``classes_[ArgMax(z)]`` taken from the logits ``z``, as ``predict``;
- one logistic unit (binary, as ``MLPClassifier``): probabilities
  ``[Sigmoid(-z), Sigmoid(z)]`` of shape ``(n_samples, 2)``, labels
  ``classes_[z > 0]``;
- logistic units (multilabel): probabilities ``Sigmoid(z)``, labels the
  int64 indicator matrix ``z > 0`` (probability above 0.5), as
  ``MLPClassifier``'s converter gives;
- regression: the output layer's link (``OUTPUTS[loss].onnx_op``: identity
  for the squared error, absolute and pinball losses, ``Exp`` for the
  Poisson and gamma losses), predictions of shape
  ``(n_samples, n_outputs_)``.

An unfitted estimator raises scikit-learn's ``NotFittedError``.

Classifiers accept the options of skl2onnx's ``MLPClassifier`` converter:
``zipmap`` (True, False or ``"columns"``), ``nocl`` and
``output_class_labels``. A float32 input (the usual) computes in float32; a
float64 input (``X[:1]`` as float64) computes in float64 throughout, except
that ``zipmap`` needs float32 probabilities: use ``zipmap=False`` there.
A float32 graph needs weights within float32's range (about 3.4e38;
others raise a ``ValueError``: export with a float64 input instead), and
its results are those of the float32 computation: inputs whose
pre-activations exceed that range in some layer give infinite or NaN outputs
(see ``float32_input_bound``).

Examples
--------
>>> import numpy as np
>>> import onnxruntime as rt
>>> from skl2onnx import to_onnx
>>> from sklearn.datasets import load_iris
>>> import skbp.onnx  # registers the converters
>>> from skbp import BPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = BPClassifier((5,), solver="lbfgs", max_iter=1000, random_state=0).fit(X, y)
>>> onx = to_onnx(clf, X[:1].astype(np.float32), options={"zipmap": False})
>>> sess = rt.InferenceSession(
...     onx.SerializeToString(), providers=["CPUExecutionProvider"]
... )
>>> labels, proba = sess.run(None, {"X": X.astype(np.float32)})
>>> bool((labels == clf.predict(X)).all())
True
>>> bool(np.allclose(proba, clf.predict_proba(X), atol=1e-5))
True
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

try:
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier, _parse_sklearn_simple_model
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        guess_proto_type,
    )
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )
    from skl2onnx.common.utils_classifier import get_label_classes
    from skl2onnx.proto import onnx_proto
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        f"skbp.onnx needs skl2onnx, which is not installed ({exc}). Install it "
        'with `pip install "skbp[onnx]"` (skl2onnx, onnx and onnxruntime).'
    ) from exc

import skbp
from skbp._array_api import to_numpy
from skbp.classifier import is_binary
from skbp.network import ACTIVATIONS, OUTPUTS, Network

# ONNX operator of each hidden activation (None: it cannot be exported).
HIDDEN_OPS = {name: entry.onnx_op for name, entry in ACTIVATIONS.items()}
# ONNX operator of each output layer, keyed on its loss in ``OUTPUTS``.
OUTPUT_OPS = {name: entry.onnx_op for name, entry in OUTPUTS.items()}
# The options skl2onnx's MLPClassifier converter offers.
CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [False, True],
    "output_class_labels": [False, True],
}
_INPUT_TYPES = [DoubleTensorType, FloatTensorType, Int64TensorType]


def _proto_dtype(operator):
    """Compute in float64 for a float64 input, in float32 for anything else."""
    if guess_proto_type(operator.inputs[0].type) == onnx_proto.TensorProto.DOUBLE:
        return onnx_proto.TensorProto.DOUBLE
    return onnx_proto.TensorProto.FLOAT


def _node(scope, container, op, inputs, output, **attrs):
    """Add one ``op`` node with a unique name."""
    name = scope.get_unique_operator_name(op)
    container.add_node(op, inputs, output, name=name, **attrs)


def _add_logits(scope, operator, container, network):
    """Add the fitted ``network``'s pass up to its output layer; return its name."""
    proto_dtype = _proto_dtype(operator)
    dtype = np.float64 if proto_dtype == onnx_proto.TensorProto.DOUBLE else np.float32
    cast = _network_as(network, dtype)
    x = operator.inputs[0].full_name
    if guess_proto_type(operator.inputs[0].type) != proto_dtype:
        cast_input = scope.get_unique_variable_name("cast_input")
        _node(scope, container, "Cast", x, cast_input, to=proto_dtype)
        x = cast_input
    hidden_op = _hidden_op(network.activation)
    n_layers = len(cast.coefs)
    for i, (W, b) in enumerate(zip(cast.coefs, cast.intercepts, strict=True)):
        W_name = scope.get_unique_variable_name(f"coefficient{i}")
        b_name = scope.get_unique_variable_name(f"intercepts{i}")
        container.add_initializer(W_name, proto_dtype, W.shape, W.ravel())
        container.add_initializer(b_name, proto_dtype, [1, b.size], b)
        product = scope.get_unique_variable_name("mul_result")
        _node(scope, container, "MatMul", [x, W_name], product)
        x = scope.get_unique_variable_name("add_result")
        _node(scope, container, "Add", [product, b_name], x)
        if i < n_layers - 1:
            activated = scope.get_unique_variable_name("next_activations")
            _node(scope, container, hidden_op, x, activated)
            x = activated
    return x


def _hidden_op(activation):
    """The ONNX operator of ``activation``; a ValueError if it has none."""
    op = ACTIVATIONS[activation].onnx_op
    if op is None:
        raise ValueError(
            f"activation={activation!r} cannot be exported to ONNX: it has no "
            "ONNX operator (skbp.network.ACTIVATIONS). Refit with an activation "
            f"that has one: {[n for n, a in ACTIVATIONS.items() if a.onnx_op]}."
        )
    return op


def _network_as(network, dtype):
    """``network`` on the host, in ``dtype``; ValueError if its parameters overflow.

    A model trained on another array namespace (a torch tensor on a GPU, say)
    exports as one trained on numpy.
    """
    host = to_numpy(network.params)
    with np.errstate(over="ignore"):
        params = host.astype(dtype)
    if not np.isfinite(params).all():
        largest = float(np.abs(host).max())
        raise ValueError(
            f"The model's weights do not fit in float32 (largest |weight| "
            f"{largest:.3g}, float32's largest value {np.finfo(np.float32).max:.3g}): "
            "a float32 graph would compute with infinities. Export a float64 "
            "graph by giving a float64 sample, e.g. "
            "to_onnx(model, X[:1].astype(np.float64))."
        )
    return Network.from_spec(network.spec, params)


def float32_input_bound(model):
    """Largest ``|x|`` (any feature) for which the float32 graph's logits stay finite.

    Layer by layer, ``|x @ W + b| <= bound * max_j sum_i |W_ij| + max|b|``,
    the bound falling to 1 after a logistic or tanh layer: for inputs within
    the returned bound, every layer's output in the float32 graph stays
    within float32's range (rounding allowed for), as do the logits, so the
    probabilities are finite (a Poisson regressor's ``exp`` may still
    overflow). It is a guarantee, not a threshold: inputs beyond it often
    work too.

    Parameters
    ----------
    model : BPClassifier or BPRegressor
        Fitted estimator whose weights fit in float32.

    Returns
    -------
    bound : float
        The largest absolute input value the float32 graph is guaranteed to
        cover; 0.0 if even a zero input could overflow.
    """
    check_is_fitted(model)
    network = _network_as(model._network, np.float32)
    low, high = 0.0, float(np.finfo(np.float32).max)
    if network.cannot_overflow(high) or not network.cannot_overflow(low):
        return high if network.cannot_overflow(high) else low
    while high - low > 1e-6 * high:  # cannot_overflow is monotone in the bound
        middle = (low + high) / 2
        low, high = (middle, high) if network.cannot_overflow(middle) else (low, middle)
    return low


def _add_output_layer(scope, container, network, logits, output):
    """Write the output layer's prediction from ``logits`` to ``output``."""
    op = OUTPUTS[network.output].onnx_op
    if op is None:
        raise ValueError(
            f"The {network.output!r} output layer cannot be exported to ONNX: it "
            "has no ONNX operator (skbp.network.OUTPUTS)."
        )
    attrs = {"axis": 1} if op == "Softmax" else {}
    _node(scope, container, op, logits, output, **attrs)


def _label_tensor(classes):
    """``(proto type, values)`` of the label lookup table for ``classes``.

    Numbers become int64 labels (classifiers accept only integral floats),
    anything else strings, as in skl2onnx's ``MLPClassifier`` converter.
    """
    if classes.dtype == np.bool_ or np.issubdtype(classes.dtype, np.number):
        return onnx_proto.TensorProto.INT64, classes.astype(np.int64)
    return onnx_proto.TensorProto.STRING, np.array([str(c).encode() for c in classes])


def _multilabel(model):
    """Whether the fitted classifier's network has one logistic unit per label."""
    network = model._network
    return network.output == "logistic" and not is_binary(network)


def bp_classifier_shape_calculator(operator):
    """Set the label and probability outputs' types (skl2onnx shape calculator).

    As for ``MLPClassifier``, with the label of a multilabel model declared
    as the ``(n_samples, n_labels)`` indicator matrix it is.
    """
    calculate_linear_classifier_output_shapes(operator)
    if _multilabel(operator.raw_operator):
        n_samples = operator.inputs[0].get_first_dimension()
        n_labels = len(operator.raw_operator.classes_)
        operator.outputs[0].set_type(Int64TensorType([n_samples, n_labels]))


def convert_bp_classifier(scope, operator, container):
    """Add a fitted ``BPClassifier``'s graph (skl2onnx converter).

    Outputs: the labels (``predict``) and the probabilities
    (``predict_proba``), which skl2onnx's parser may then pass through ZipMap.
    """
    model = operator.raw_operator
    network = model._network
    logits = _add_logits(scope, operator, container, network)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    if _multilabel(model):  # label j where p_j > 0.5, i.e. z_j > 0
        _add_output_layer(scope, container, network, logits, proba)
        positive = _positive_logits(scope, operator, container, logits)
        _node(
            scope, container, "Cast", positive, label, to=onnx_proto.TensorProto.INT64
        )
        return
    # Labels from the logits, as predict takes them: float32 probabilities can
    # round two close classes to a tie that the logits do not have.
    index = scope.get_unique_variable_name("class_index")
    if is_binary(network):  # [sigmoid(-z), sigmoid(z)]; classes_[z > 0]
        negated = scope.get_unique_variable_name("negated_logits")
        both = scope.get_unique_variable_name("both_logits")
        _node(scope, container, "Neg", logits, negated)
        _node(scope, container, "Concat", [negated, logits], both, axis=1)
        _add_output_layer(scope, container, network, both, proba)
        positive = _positive_logits(scope, operator, container, logits)
        column = scope.get_unique_variable_name("positive_index")
        flat = scope.get_unique_variable_name("flat_shape")
        int64 = onnx_proto.TensorProto.INT64
        _node(scope, container, "Cast", positive, column, to=int64)
        container.add_initializer(flat, onnx_proto.TensorProto.INT64, [1], [-1])
        _node(scope, container, "Reshape", [column, flat], index)
    else:
        _add_output_layer(scope, container, network, logits, proba)
        _node(scope, container, "ArgMax", logits, index, axis=1, keepdims=0)
    label_type, values = _label_tensor(np.asarray(get_label_classes(scope, model)))
    classes = scope.get_unique_variable_name("classes")
    container.add_initializer(classes, label_type, values.shape, values)
    _node(scope, container, "Gather", [classes, index], label, axis=0)


def _positive_logits(scope, operator, container, logits):
    """Add ``logits > 0`` (booleans); return its name."""
    zero = scope.get_unique_variable_name("zero")
    positive = scope.get_unique_variable_name("positive")
    container.add_initializer(zero, _proto_dtype(operator), [], [0])
    _node(scope, container, "Greater", [logits, zero], positive)
    return positive


def bp_regressor_shape_calculator(operator):
    """Declare the ``(n_samples, n_outputs_)`` prediction (skl2onnx shape calculator).

    A model fitted on a 1-D ``y`` has ``n_outputs_ == 1``: the output then
    has one column, as skl2onnx's regressors have.
    """
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(operator, good_input_types=_INPUT_TYPES)
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    tensor_type = DoubleTensorType if double else FloatTensorType
    n_samples = operator.inputs[0].get_first_dimension()
    n_outputs = operator.raw_operator.n_outputs_
    operator.outputs[0].set_type(tensor_type([n_samples, n_outputs]))


def convert_bp_regressor(scope, operator, container):
    """Add a fitted ``BPRegressor``'s graph (skl2onnx converter)."""
    network = operator.raw_operator._network
    logits = _add_logits(scope, operator, container, network)
    output = operator.outputs[0].full_name
    _add_output_layer(scope, container, network, logits, output)


def _fitted_only(parser):
    """skl2onnx's ``parser``, raising ``NotFittedError`` for an unfitted model first."""

    def parse(scope, model, inputs, custom_parsers=None):
        check_is_fitted(model)
        return parser(scope, model, inputs, custom_parsers=custom_parsers)

    return parse


def _register_classifier():
    update_registered_converter(
        skbp.BPClassifier,
        "SkbpBPClassifier",
        bp_classifier_shape_calculator,
        convert_bp_classifier,
        parser=_fitted_only(_parse_sklearn_classifier),
        options=CLASSIFIER_OPTIONS,
    )


def _register_regressor():
    update_registered_converter(
        skbp.BPRegressor,
        "SkbpBPRegressor",
        bp_regressor_shape_calculator,
        convert_bp_regressor,
        parser=_fitted_only(_parse_sklearn_simple_model),
    )


_register_classifier()
if hasattr(skbp, "BPRegressor"):
    _register_regressor()
