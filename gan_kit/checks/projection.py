"""The check of notebook 08's second exercise: the projection discriminator's output (Miyato & Koyama 2018), written
by the student as ``projection_logit(logit, features, class_embeddings, labels) -> (batch, 1)``: the unconditional
logit plus the inner product of each example's features with its label's row of the class-embedding matrix.

The expected values are stored (fixture ``projection``, computed by the instructor's references), with the values
the known wrong answers give: the class term alone, the logit alone, the term subtracted, summed over the batch too,
averaged over the features, not summed, summed over the wrong axis, the neighbouring class's vector. Results of the
wrong shape are named by their shape: one logit per class (the full matrix product), a flat (batch,) vector, the
(batch, batch) broadcast of a sum without ``keepdims``, a single number. :func:`collect_projection` runs the answer
as the discriminator does, traced into a graph on float32 tensors (the kit's own head switched off), and records
each result's dtype; :func:`judge_projection` compares them with the stored values.

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import fixtures
from ._base import CheckFailed, collect_output, collected, compare, kit_disabled, passed
from .formulas import _diagnose

__all__ = ["PROJECTION_HINT", "PROJECTION_KIT", "collect_projection", "judge_projection"]

PROJECTION_KIT = ("models:projection_logit", "models:ProjectionLogit.call", "models:ProjectionLogit.class_embeddings",
                  "models:build_conditional_discriminator", "models:build_conditional_models")
PROJECTION_HINT = ("for each example take row labels[i] of class_embeddings, multiply it with that example's features "
                   "and sum over the feature axis, then add logit; the result has logit's shape (batch, 1)")
Outputs = dict[str, np.ndarray]
_OUT_OF_RANGE = re.compile(r"indices\[\d+\] = -?\d+ is not in \[0, \d+\)")


def _in_graph(function: Callable, where: str) -> Callable:
    """``function`` as the discriminator calls it: traced into a graph (``tf.function``), where its arguments are
    symbolic tensors. NumPy on them, and a label used as an index out of range, are reported as what they are."""
    import tensorflow as tf

    traced = tf.function(function, autograph=False)

    def call(*args: Any) -> Any:
        try:
            return traced(*args)
        except (NotImplementedError, AttributeError, TypeError) as exc:
            text = str(exc).lower()
            if "symbolic" not in text or "numpy" not in text:
                raise
            raise CheckFailed(f"projection_logit{where}: it turns its arguments into NumPy arrays (np.* functions "
                              "or .numpy()), which fails where the discriminator calls it: inside its training "
                              "step, on symbolic tensors. Write it with TensorFlow operations (tf.gather or "
                              "tf.one_hot, tf.reduce_sum, tf.matmul, ...).") from None
        except tf.errors.InvalidArgumentError as exc:
            found = _OUT_OF_RANGE.search(str(exc))
            if not found:
                raise
            raise CheckFailed(f"projection_logit{where} raised InvalidArgumentError: {found.group(0)}. Hint: a label "
                              "is a row index of class_embeddings, 0 to num_classes - 1: label y picks row y, "
                              "without shifting it.") from None

    return call


def _dtype(got: Any) -> str:
    """The name of a result's element type (``float32``, ``float64``, ...), or of its Python type."""
    dtype = getattr(got, "dtype", None)
    return str(getattr(dtype, "name", dtype)) if dtype is not None else type(got).__name__


def collect_projection(student_fns: Mapping[str, Callable], fixture: Mapping[str, Any]) -> Outputs:
    """``{"<case>/logit": ..., "<case>/dtype": ...}``: the student's ``projection_logit`` on each case's float32
    tensors and int32 labels, and the element type of what it returned."""
    import tensorflow as tf

    out: Outputs = {}
    for i, case in enumerate(fixture["cases"]):
        inputs, where = case["inputs"], f" on {case['where']}"
        args = [tf.constant(np.asarray(inputs[k], np.float32)) for k in ("logit", "features", "class_embeddings")]
        labels = tf.constant(np.asarray(inputs["labels"], np.int32))
        with kit_disabled(PROJECTION_KIT):
            got = collect_output(out, f"{i}/logit", "projection_logit",
                                 _in_graph(student_fns["projection_logit"], where), *args, labels, where=where)
        if got is not None:
            out[f"{i}/dtype"] = np.array(_dtype(got))
    return out


def _shape_mistake(got: np.ndarray, expected: np.ndarray, classes: int) -> str:
    """What a result of the wrong shape says about the answer ("" when its shape says nothing in particular)."""
    batch = expected.shape[0]
    if got.size == 1:
        return ("returned one number for the whole batch: D gives one logit per example, (batch, 1). Sum the "
                "products over the feature axis only (axis=-1), not over the batch")
    if got.shape == (batch, classes):
        return (f"expected shape {expected.shape}, got {got.shape}: one value per class. That is the full matrix "
                "product of the features with every class's vector; each example needs only the row of its own "
                "label")
    if got.shape == (batch,):
        same = " (the values are right)" if np.allclose(got, expected[:, 0], rtol=1e-4, atol=1e-5) else ""
        return (f"expected shape {expected.shape}, got {got.shape}{same}: D's logits are a column, like logit. Keep "
                "the summed axis (keepdims=True) or add one")
    if got.shape == (batch, batch):
        return (f"expected shape {expected.shape}, got {got.shape}: a (batch,) sum added to the (batch, 1) logit "
                "broadcasts to (batch, batch). Keep the summed axis (keepdims=True)")
    return ""


def judge_projection(outputs: Outputs, fixture: Mapping[str, Any]) -> None:
    """Each case's logits against the stored ones: a telling wrong shape first, then the known mistakes, then the
    element type (float32, as D's logits), then the values."""
    for i, case in enumerate(fixture["cases"]):
        got, where = collected(outputs, f"{i}/logit"), f" on {case['where']}"
        expected = np.asarray(case["expected"]["logit"], np.float64)
        if not np.iscomplexobj(got):
            classes = np.shape(case["inputs"]["class_embeddings"])[0]
            said = _shape_mistake(got, expected, classes)
            if said:
                raise CheckFailed(f"projection_logit{where}: {said}.")
            named = _diagnose(got, case["mistakes"]["logit"], rtol=1e-4)
            if named and got.shape == expected.shape:
                raise CheckFailed(f"projection_logit{where}: wrong values.{named} Hint: {PROJECTION_HINT}.")
        tolerance = case.get("tolerance", {})
        try:
            compare("projection_logit", got, expected, PROJECTION_HINT, rtol=tolerance.get("rtol", 1e-4),
                    atol=tolerance.get("atol", 1e-5), where=where)
        except CheckFailed as exc:
            extra = "" if np.iscomplexobj(got) else _diagnose(got, case["mistakes"]["logit"], rtol=1e-4)
            raise CheckFailed(str(exc) + extra) from None
        dtype = str(outputs[f"{i}/dtype"])
        if dtype != "float32":
            raise CheckFailed(f"projection_logit{where}: the values are right but of type {dtype}; the "
                              "discriminator's logits are float32. Hint: compute with the float32 tensors you are "
                              "given (no cast to another type).")


def check_projection_logit(projection_logit: Callable, seed: int = 0) -> None:
    """The projection discriminator's output (notebook 08) for ``projection_logit(logit, features,
    class_embeddings, labels)``: ``logit + <class_embeddings[label], features>`` per example, (batch, 1) float32,
    on two batches whose sizes, class counts and feature counts differ."""
    fixture = fixtures.load("projection", seed)
    judge_projection(collect_projection({"projection_logit": projection_logit}, fixture), fixture)
    passed("projection discriminator's output: each example's class vector, inner product, unconditional logit")
