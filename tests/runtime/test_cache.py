"""The content cache: keys, memoisation safety under mutation, LRU and eviction-unloads, assert-no-compile."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import anekit
from anekit import budget, config, mil
from anekit.mil.values import Value
from anekit.runtime.cache import ProgramCache, forget, program_digest, program_key

_seeds = itertools.count(20_000)


def program(seed: int | None = None, c: int = 4, s: int = 8) -> mil.Program:
    w = np.random.default_rng(next(_seeds) if seed is None else seed).standard_normal((c, c, 1, 1))

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.relu(x=mb.conv(x=x, weight=w.astype(np.float16), pad_type="valid"))

    return prog


class FakeExe:
    def __init__(self) -> None:
        self.inputs: list[object] = []
        self.outputs: list[object] = []
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_same_content_same_key_different_weights_different_key() -> None:
    a, b, c = program(1), program(1), program(2)
    assert program_digest(a) == program_digest(b) != program_digest(c)
    assert program_key(a, "reference", "main", {"qos": 21, "path": "standard"}) == program_key(
        b, "reference", "main", {"path": "realtime", "qos": 21}
    )  # the run path does not change what is compiled
    assert program_key(a, "reference", "main", {"qos": 21}) != program_key(a, "reference", "main", {"qos": 9})
    assert program_key(a, "reference", "main", {}) != program_key(a, "ane", "main", {})


def test_memoised_digest_notices_mutation() -> None:
    p = program(3)
    first = program_digest(p)
    assert program_digest(p) == first
    fn = p.main
    const = next(op for op in fn.operations if op.op_type == "const" and "weight" in op.name)
    old = const.attrs["val"]
    const.attrs["val"] = Value(old.type, np.zeros_like(old.data))  # replaced weights
    changed = program_digest(p)
    assert changed != first
    relu = fn.operations[-1]
    relu.op_type = "sigmoid"  # an op edited in place
    assert program_digest(p) not in (first, changed)
    relu.op_type = "relu"
    assert program_digest(p) == changed
    # Weight arrays are read-only, so they cannot change behind the memo's back; forget() recomputes anyway.
    with pytest.raises(ValueError, match="read-only"):
        const.attrs["val"].data[...] = 1
    forget(p)
    assert program_digest(p) == changed


def test_compile_hits_the_cache_and_spends_nothing(any_backend: str) -> None:
    p = program()
    x = np.random.default_rng(0).standard_normal((1, 4, 1, 8))
    with anekit.compile(p, backend=any_backend) as k1:
        want = k1(x=x)
    before = budget.used()
    with anekit.compile(program_from_text(p), backend=any_backend) as k2, anekit.compile(p, backend=any_backend) as k3:
        assert k2 is not k3
        assert k2.inputs["x"] is not k3.inputs["x"]
        for k in (k2, k3):
            np.testing.assert_array_equal(k(x=x)["relu_0"], want["relu_0"])
    assert budget.used() == before


def program_from_text(p: mil.Program) -> mil.Program:
    return mil.parse(p.to_mil(), weights=p.weights())


def test_cache_false_always_compiles(any_backend: str) -> None:
    p = program()
    anekit.compile(p, backend=any_backend).close()
    before = budget.used()
    anekit.compile(p, backend=any_backend, cache=False).close()
    assert budget.used() == before + 1


def test_assert_no_compile_raises_on_a_real_compile_only(any_backend: str) -> None:
    p = program()
    anekit.compile(p, backend=any_backend).close()
    with config.override(assert_no_compile=True):
        anekit.compile(p, backend=any_backend).close()  # served from the cache
        before = budget.used()
        with pytest.raises(budget.UnexpectedCompileError, match="ANEKIT_ASSERT_NO_COMPILE"):
            anekit.compile(program(), backend=any_backend)
        assert budget.used() == before


def test_lru_evicts_and_unloads_once_unleased() -> None:
    cache = ProgramCache(2)
    keys = [("d" + str(i), "reference", "main", ()) for i in range(3)]
    exes = [FakeExe() for _ in keys]
    leases = [cache.insert(k, e) for k, e in zip(keys, exes, strict=False)]
    assert len(cache) == 2
    assert cache.stats.evictions == 1
    assert exes[0].closed == 0  # evicted but still leased: kept loaded
    leases[0].close()
    assert exes[0].closed == 1
    leases[1].close()
    assert exes[1].closed == 0  # cached, unleased: stays loaded for the next hit
    hit = cache.lookup(keys[1])
    assert hit is not None
    assert cache.stats.hits == 1
    assert cache.lookup(keys[0]) is None
    assert cache.stats.misses == 1
    cache.resize(0)
    assert exes[1].closed == 0
    assert exes[2].closed == 0
    hit.close()
    leases[2].close()
    assert (exes[1].closed, exes[2].closed) == (1, 1)
    leases[2].close()  # idempotent
    assert exes[2].closed == 1
    with pytest.raises(ValueError, match="non-negative int"):
        ProgramCache(-1)


def test_capacity_zero_means_close_unloads() -> None:
    cache = ProgramCache(0)
    exe = FakeExe()
    lease = cache.insert(("k", "reference", "main", ()), exe)
    assert len(cache) == 0
    lease.close()
    assert exe.closed == 1


def test_closed_kernel_lease_refuses_to_run(any_backend: str) -> None:
    k = anekit.compile(program(), backend=any_backend)
    lease = k._exe
    k.close()
    with pytest.raises(RuntimeError, match="closed"):
        lease.evaluate([], [], path="standard", qos=21)


def test_closed_kernels_surfaces_are_reused_only_when_nobody_holds_them(any_backend: str) -> None:
    p = program()
    x = np.random.default_rng(1).standard_normal((1, 4, 1, 8))
    k1 = anekit.compile(p, backend=any_backend)
    want = k1(x=x)["relu_0"]
    surfaces = {id(k1.inputs["x"]), id(k1.outputs["relu_0"])}
    k1.close()
    assert k1.inputs == {} and k1.outputs == {}  # close() frees everything the kernel held
    with anekit.compile(p, backend=any_backend) as k2:
        assert {id(k2.inputs["x"]), id(k2.outputs["relu_0"])} == surfaces  # reused, not recreated
        np.testing.assert_array_equal(k2(x=x)["relu_0"], want)
        kept = k2.outputs["relu_0"]  # the caller keeps a surface past close()
    with anekit.compile(p, backend=any_backend) as k3:
        assert k3.outputs["relu_0"] is not kept
        k3(x=np.zeros((1, 4, 1, 8)))
    np.testing.assert_array_equal(kept.read(), want)  # its data was not touched by the next kernel


def test_open_kernels_never_share_surfaces_and_eviction_drops_spares(any_backend: str) -> None:
    p = program()
    a, b = anekit.compile(p, backend=any_backend), anekit.compile(p, backend=any_backend)
    assert a.inputs["x"] is not b.inputs["x"]
    entry = a._exe._entry
    a.close()
    assert len(entry.spare) == 1  # kept for the next kernel of this model
    anekit.runtime.cache.default_cache().clear()
    assert entry.evicted and entry.spare == []
    b.close()
    assert entry.spare == []  # an evicted model keeps nothing for later
