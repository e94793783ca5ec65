"""Kernel inputs from other array libraries: PyTorch tensors become host numpy arrays, or are refused by name.

numpy reads a plain CPU tensor through ``__array__`` already; these cases fail there with messages that do not
say which input was at fault, so they are handled here:

* a tensor that requires grad is detached (the kernel computes values; no gradient flows through it);
* bfloat16, which numpy has no type for, is widened to float32 (exact: every bf16 value is an fp32 value);
* a tensor on another device (CUDA, MPS, ...) is refused: the ANE reads host memory, and an implicit copy
  back would hide a device synchronisation in every call.

PyTorch is recognised by the value's module, so nothing here imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fit_shape", "host_array"]


def fit_shape(array: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray | None, tuple[int, int] | None]:
    """``array`` in a surface's input forms, as a (possibly zero-stride) view of exactly ``shape``.

    The forms :meth:`anekit.Surface.write` accepts: the shape itself, ``(C, S)`` for ``[1, C, 1, S]``, or a
    shape that broadcasts to either (e.g. ``(C, 1)``: one value per channel).

    Returns:
        (the view, or None when ``array`` fits no form; the ``(C, S)`` form of ``shape``, or None when it has
        none), so callers can name every accepted form in their error message.
    """
    cs = (shape[1], shape[3]) if len(shape) == 4 and shape[0] == shape[2] == 1 else None
    if array.shape == shape:
        return array, cs
    try:
        return np.broadcast_to(array, shape), cs
    except ValueError:
        pass
    if cs is not None and array.ndim <= 2:
        try:
            return np.broadcast_to(array, cs).reshape(shape), cs
        except ValueError:
            pass
    return None, cs


def host_array(name: str, value: Any) -> Any:
    """``value`` as something numpy reads directly; a PyTorch tensor is converted (module docstring).

    Args:
        name: the input's name, for error messages.
        value: any array-like.

    Raises:
        TypeError: a tensor that is not on the CPU, naming the input and its device.
    """
    if not type(value).__module__.startswith("torch"):
        return value
    device = getattr(value, "device", None)
    if device is None or not hasattr(value, "detach"):
        return value
    if device.type != "cpu":
        raise TypeError(
            f"input {name!r} is a torch tensor on {device}; anekit reads inputs from host memory: "
            f"pass {name}=tensor.cpu() (the copy synchronises with the device)"
        )
    tensor = value.detach()  # a no-op for a tensor without grad
    if str(tensor.dtype) == "torch.bfloat16":
        tensor = tensor.float()
    return tensor.numpy()
