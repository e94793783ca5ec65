"""NameScope: generated names, identifier checks and the rollback of a failed insertion."""

from __future__ import annotations

import numpy as np
import pytest

from anekit.errors import MILError
from anekit.mil import tensor
from anekit.mil.builder.names import NameScope, check_ident
from anekit.mil.ir import Function
from anekit.mil.values import Value


def test_check_ident() -> None:
    check_ident("conv_0@a", "op name")
    for bad in ("", "0x", "a b", "a-b", 3, None):
        with pytest.raises(MILError, match="not a valid MIL identifier"):
            check_ident(bad, "op name")


def test_fresh_names_skip_taken_ones() -> None:
    scope = NameScope(Function("main", "ios18"))
    assert scope._claim_op_name(None, "relu") == "relu_0"
    assert scope._claim_op_name("relu_1", "relu") == "relu_1"
    assert scope._claim_op_name(None, "relu") == "relu_2"
    with pytest.raises(MILError, match="already used"):
        scope._claim_op_name("relu_1", "relu")
    v = scope._new_var("relu_2", tensor((1,), "fp16"))
    assert v.name == "relu_2"
    assert scope._new_var("relu_2", tensor((1,), "fp16")).name == "relu_2_0"
    with pytest.raises(MILError, match="already used"):
        scope._new_var("relu_2", tensor((1,), "fp16"), strict=True)


def test_rollback_releases_exactly_the_insertion() -> None:
    fn = Function("main", "ios18")
    scope = NameScope(fn)
    value = Value(tensor((2,), "int32"), np.array([1, 2], np.int32))
    scope._begin()
    kept = scope._auto_const("op_x", value)
    n_ops = scope._begin()  # a new insertion: the journal of the first one is dropped
    scope._claim_op_name(None, "op")
    scope._auto_const("op_x", value)
    scope._new_var("fresh", tensor((1,), "fp16"))
    assert [op.name for op in fn.operations] == ["op_x_0", "op_x_1"]
    scope._rollback(n_ops)
    assert [op.name for op in fn.operations] == ["op_x_0"]
    assert set(scope._vars) == {"op_x_0"} and scope._vars["op_x_0"] is kept
    assert scope._names == {"op_x_0"}
    assert scope._counters == {"op_x": 1}  # the counter is back where it was
    assert scope._auto_const("op_x", value).name == "op_x_1"


def test_finished_scope_rejects_names() -> None:
    scope = NameScope(Function("main", "ios18"))
    scope._finished = True
    with pytest.raises(MILError, match="finished"):
        scope._claim_op_name(None, "relu")
