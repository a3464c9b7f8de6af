"""ONNX export: ``import skbp.onnx`` teaches skl2onnx to convert skbp's estimators.

Importing this module registers a converter for :class:`~skbp.BPClassifier`
(and for ``BPRegressor`` when skbp has one) with skl2onnx, so that
``skl2onnx.to_onnx`` converts a fitted estimator, alone or as the last step
of a :class:`~sklearn.pipeline.Pipeline`, into a graph that ``onnxruntime``
(or any ONNX runtime) runs without Python. It needs the ``onnx`` extra:
``pip install "skbp[onnx]"``.

The graph is the network's forward pass, one ``MatMul -> Add -> activation``
per layer from ``coefs_`` and ``intercepts_``, then by ``out_activation_``:

- ``"softmax"`` (multiclass, and binary: skbp uses two softmax units where
  ``MLPClassifier`` uses one logistic unit): probabilities ``Softmax(z)``,
  labels ``classes_[ArgMax(z)]`` taken from the logits ``z``, as ``predict``;
- ``"logistic"`` (multilabel): probabilities ``Sigmoid(z)``, labels the
  int64 indicator matrix ``z > 0`` (probability above 0.5), as
  ``MLPClassifier``'s converter gives;
- ``"identity"`` or ``"exp"`` (regression): predictions of shape
  ``(n_samples, n_outputs_)``.

Classifiers accept the options of skl2onnx's ``MLPClassifier`` converter:
``zipmap`` (True, False or ``"columns"``), ``nocl`` and
``output_class_labels``. A float32 input (the usual) computes in float32; a
float64 input (``X[:1]`` as float64) computes in float64 throughout, except
that ``zipmap`` needs float32 probabilities: use ``zipmap=False`` there.

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

try:
    from skl2onnx import update_registered_converter
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

# ONNX operator of each hidden activation (None: nothing to apply).
HIDDEN_OPS = {"logistic": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "identity": None}
# ONNX operator of each output activation, keyed on ``out_activation_``.
OUTPUT_OPS = {
    "softmax": "Softmax",
    "logistic": "Sigmoid",
    "identity": "Identity",
    "exp": "Exp",
}
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


def _add_logits(scope, operator, container, model):
    """Add the forward pass up to the output layer's input; return its name."""
    proto_dtype = _proto_dtype(operator)
    dtype = np.float64 if proto_dtype == onnx_proto.TensorProto.DOUBLE else np.float32
    x = operator.inputs[0].full_name
    if guess_proto_type(operator.inputs[0].type) != proto_dtype:
        cast = scope.get_unique_variable_name("cast_input")
        _node(scope, container, "Cast", x, cast, to=proto_dtype)
        x = cast
    hidden_op = HIDDEN_OPS[model.activation]
    n_layers = len(model.coefs_)
    for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_, strict=True)):
        W_name = scope.get_unique_variable_name(f"coefficient{i}")
        b_name = scope.get_unique_variable_name(f"intercepts{i}")
        container.add_initializer(W_name, proto_dtype, W.shape, W.astype(dtype).ravel())
        container.add_initializer(b_name, proto_dtype, [1, b.size], b.astype(dtype))
        product = scope.get_unique_variable_name("mul_result")
        _node(scope, container, "MatMul", [x, W_name], product)
        x = scope.get_unique_variable_name("add_result")
        _node(scope, container, "Add", [product, b_name], x)
        if i < n_layers - 1 and hidden_op is not None:
            activated = scope.get_unique_variable_name("next_activations")
            _node(scope, container, hidden_op, x, activated)
            x = activated
    return x


def _add_output_activation(scope, container, model, logits, output):
    """Write ``out_activation_(logits)`` to the variable named ``output``."""
    op = OUTPUT_OPS[model.out_activation_]
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


def bp_classifier_shape_calculator(operator):
    """Set the label and probability outputs' types (skl2onnx shape calculator).

    As for ``MLPClassifier``, with the label of a multilabel model declared
    as the ``(n_samples, n_labels)`` indicator matrix it is.
    """
    calculate_linear_classifier_output_shapes(operator)
    if operator.raw_operator.out_activation_ == "logistic":
        n_samples = operator.inputs[0].get_first_dimension()
        n_labels = len(operator.raw_operator.classes_)
        operator.outputs[0].set_type(Int64TensorType([n_samples, n_labels]))


def convert_bp_classifier(scope, operator, container):
    """Add a fitted ``BPClassifier``'s graph (skl2onnx converter).

    Outputs: the labels (``predict``) and the probabilities
    (``predict_proba``), which skl2onnx's parser may then pass through ZipMap.
    """
    model = operator.raw_operator
    logits = _add_logits(scope, operator, container, model)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    _add_output_activation(scope, container, model, logits, proba)
    if model.out_activation_ == "logistic":  # multilabel: label j where p_j > 0.5
        zero = scope.get_unique_variable_name("zero")
        positive = scope.get_unique_variable_name("positive")
        container.add_initializer(zero, _proto_dtype(operator), [], [0])
        _node(scope, container, "Greater", [logits, zero], positive)
        _node(
            scope, container, "Cast", positive, label, to=onnx_proto.TensorProto.INT64
        )
        return
    # Labels from the logits, as predict takes them: float32 probabilities can
    # round two close classes to a tie that the logits do not have.
    index = scope.get_unique_variable_name("argmax_output")
    _node(scope, container, "ArgMax", logits, index, axis=1, keepdims=0)
    label_type, values = _label_tensor(np.asarray(get_label_classes(scope, model)))
    classes = scope.get_unique_variable_name("classes")
    container.add_initializer(classes, label_type, values.shape, values)
    _node(scope, container, "Gather", [classes, index], label, axis=0)


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
    model = operator.raw_operator
    logits = _add_logits(scope, operator, container, model)
    output = operator.outputs[0].full_name
    _add_output_activation(scope, container, model, logits, output)


def _register_classifier():
    update_registered_converter(
        skbp.BPClassifier,
        "SkbpBPClassifier",
        bp_classifier_shape_calculator,
        convert_bp_classifier,
        options=CLASSIFIER_OPTIONS,
    )


def _register_regressor():
    update_registered_converter(
        skbp.BPRegressor,
        "SkbpBPRegressor",
        bp_regressor_shape_calculator,
        convert_bp_regressor,
    )


_register_classifier()
if hasattr(skbp, "BPRegressor"):
    _register_regressor()
