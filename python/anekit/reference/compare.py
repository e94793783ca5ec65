"""Comparing results with the reference: shape, then dtype, then values with per-dtype tolerances.

The order follows MLX's ``assertEqualArray`` (docs/internals/architecture.md §7): a shape or dtype mismatch is reported
as such instead of as a confusing value difference. Used to judge ANE results (and any other backend) against
:func:`anekit.reference.run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TOLERANCES", "Tolerance", "assert_close", "compare_outputs"]


@dataclass(frozen=True)
class Tolerance:
    """``|actual − expected| <= atol + rtol·|expected|`` elementwise (numpy's ``allclose`` rule)."""

    rtol: float
    atol: float


#: Default tolerances by numpy dtype of the expected value. fp16: its spacing at 1.0 is 2^-10 ≈ 9.8e-4
#: (docs/internals/mil-format.md §10.10), so four ulps relative, and the same absolute floor for values that cancel to
#: near zero; fp32/fp64: a few ulps of accumulated rounding. Integers and bools compare exactly.
TOLERANCES: dict[np.dtype, Tolerance] = {
    np.dtype(np.float16): Tolerance(rtol=4 * 2.0**-10, atol=4 * 2.0**-10),
    np.dtype(np.float32): Tolerance(rtol=1e-5, atol=1e-6),
    np.dtype(np.float64): Tolerance(rtol=1e-12, atol=1e-14),
}


def assert_close(
    actual: Any,
    expected: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    check_dtype: bool = True,
    name: str = "value",
) -> None:
    """Raise ``AssertionError`` unless ``actual`` matches ``expected`` in shape, dtype and values.

    NaNs compare equal to NaNs in the same positions; infinities must match exactly.

    Args:
        actual: the result under test (array-like).
        expected: the reference result (array-like); its dtype selects the default tolerances.
        rtol / atol: override the per-dtype defaults of :data:`TOLERANCES`.
        check_dtype: require identical dtypes (off when comparing, e.g., an fp32 backend output with an fp16
            reference).
        name: what is compared, for the message.
    """
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: shape {a.shape} != expected {e.shape}")
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(f"{name}: dtype {a.dtype} != expected {e.dtype}")
    if e.dtype.kind not in "fc":
        if not np.array_equal(a, e):
            bad = int(np.sum(a != e))
            raise AssertionError(f"{name}: {bad} of {e.size} elements differ (exact comparison for {e.dtype})")
        return
    tol = TOLERANCES.get(e.dtype, TOLERANCES[np.dtype(np.float32)])
    rt = tol.rtol if rtol is None else rtol
    at = tol.atol if atol is None else atol
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    both_nan = np.isnan(a64) & np.isnan(e64)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(a64) & np.isfinite(e64)  # an infinity must match exactly
        ok = both_nan | (a64 == e64) | (finite & (np.abs(a64 - e64) <= at + rt * np.abs(e64)))
    if not ok.all():
        idx = np.unravel_index(int(np.argmin(ok.reshape(-1))), ok.shape) if ok.ndim else ()
        worst = float(np.nanmax(np.where(ok, 0.0, np.abs(a64 - e64))))
        raise AssertionError(
            f"{name}: {int((~ok).sum())} of {e.size} elements outside rtol={rt:g}, atol={at:g}; "
            f"first at {tuple(int(i) for i in idx)}: {a64[idx]!r} vs {e64[idx]!r}; max abs diff {worst:g}"
        )


def compare_outputs(actual: Mapping[str, Any], expected: Mapping[str, Any], **kwargs: Any) -> None:
    """:func:`assert_close` on every output of two ``{name: array}`` results (same names required)."""
    if list(actual) != list(expected):
        raise AssertionError(f"output names {list(actual)} != expected {list(expected)}")
    for k in expected:
        assert_close(actual[k], expected[k], name=k, **kwargs)
