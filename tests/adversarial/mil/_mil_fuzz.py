"""Seeds, mutations and the chain under test for the MIL fuzz (tests/adversarial/mil/test_adv_mil_fuzz.py).

The chain is the one a user drives: ``mil.parse`` (text + weight files) -> ``mil.validate`` -> emit
(``to_mil``/``weights``, re-parsed to the same structure) -> ``anekit.compile`` on the reference backend ->
run on inputs of the declared types. Every step up to compile must either succeed or raise one of anekit's
own error types (``anekit.errors.AnekitError``) with a message; a program that compiled must run and give
outputs of the declared shapes (an error there means validation let through something the executor cannot
do). Anything else is a finding.
"""

from __future__ import annotations

import random
import re
import signal
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import anekit
from anekit import mil
from anekit.errors import AnekitError
from anekit.mil.ops import OP_REGISTRY

DATA = Path(__file__).resolve().parents[2] / "data" / "mil"
#: The largest input a run may be fed (elements): mutated shapes can ask for gigabytes, which validation
#: refuses at compile; what compiles but is merely big is not worth the CI time.
MAX_RUN_ELEMENTS = 1 << 18


@dataclass
class Seed:
    """A starting program: its text, its weight files (``@model_path/...`` -> bytes) and how often it is
    picked relative to the others (the big real programs cost 10x a small one per case)."""

    name: str
    text: str
    weights: dict[str, bytes] = field(default_factory=dict)
    share: float = 1.0


def _built_seeds() -> list[Seed]:
    """Small builder programs covering weights (blob and inline), normalisation, attention-style matmuls,
    reductions to scalars, concat, multi-output functions and both dialects."""
    rng = np.random.default_rng(0)
    progs: list[tuple[str, mil.Program]] = []

    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, 16, 1, 32), "fp16"))
    y = mb.conv(x=x, weight=rng.standard_normal((16, 16, 1, 1)) * 0.1, bias=rng.standard_normal(16))
    y = mb.layer_norm(x=y, axes=[1], epsilon=1e-5)
    y = mb.leaky_relu(x=y, alpha=0.1)
    progs.append(("conv_ln_ios18", mb.build(y)))

    mb = mil.Builder("ios16")
    x = mb.input("x", mil.tensor((1, 32, 1, 32), "fp16"))
    s = mb.reduce_sum(x=mb.mul(x=x, y=x), axes=[1], keep_dims=True)
    r = mb.rsqrt(x=mb.add(x=mb.mul(x=s, y=1.0 / 32), y=1e-5))
    y = mb.mul(x=mb.mul(x=x, y=r), y=rng.standard_normal((1, 32, 1, 1)).astype(np.float16))
    progs.append(("rmsnorm_ios16", mb.build(y)))

    mb = mil.Builder("ios17")
    q = mb.input("q", mil.tensor((1, 4, 8, 32), "fp16"))
    k = mb.input("k", mil.tensor((1, 4, 8, 32), "fp16"))
    att = mb.softmax(x=mb.mul(x=mb.matmul(x=q, y=k, transpose_y=True), y=0.125), axis=-1)
    o = mb.matmul(x=att, y=k)
    progs.append(("attention_ios17", mb.build([o, mb.reduce_max(x=att, axes=[-1], keep_dims=True)])))

    mb = mil.Builder("ios18")
    a = mb.input("a", mil.tensor((1, 8, 1, 32), "fp16"))
    b = mb.input("b", mil.tensor((1, 8, 1, 32), "fp16"))
    c = mb.concat(values=(mb.sigmoid(x=a), mb.tanh(x=b)), axis=1, interleave=False)
    t = mb.transpose(x=c, perm=[0, 3, 2, 1])
    z = mb.reduce_sum(x=mb.reshape(x=t, shape=[512]), axes=[0], keep_dims=False)
    progs.append(("concat_scalar_ios18", mb.build({"t": t, "z": z})))

    mb = mil.Builder("ios15")
    x = mb.input("x", mil.tensor((1, 8, 1, 64), "fp16"))
    y = mb.elu(x=mb.sub(x=x, y=np.full((1, 8, 1, 64), 0.5, np.float16)), alpha=0.5)
    y = mb.clip(x=y, alpha=-1.0, beta=1.0)
    progs.append(("elementwise_ios15", mb.build(y)))

    return [Seed(name, p.to_mil(), p.weights()) for name, p in progs]


#: Corpus bundles used as seeds, with their share of the cases. Small files are cheap; the Silero bundles
#: carry real weight files (fp16/fp32 blobs, int8 with constexpr ops), the targets of the weight-file
#: corruptions; the MiniLM files (150-240 kB, no weights) would take the whole time budget and are left out.
_CORPUS_SEEDS = {
    "coremltools_add_ios16.mlmodelc": 1.0,
    "fluidaudio_argmax_ios16.mlmodelc": 1.0,
    "fluidaudio_transpose_flexible_ios16.mlmodelc": 1.0,
    "parakeet_eou_decoder_lstm_ios17.mlmodelc": 0.2,
    "parakeet_eou_joint_topk_ios17.mlmodelc": 0.15,
    "silero_vad_fp16_ios15.mlmodelc": 0.2,
    "silero_vad_int8_affine_ios16.mlmodelc": 0.2,
}


def _read_seeds() -> list[Seed]:
    out = []
    for name, share in _CORPUS_SEEDS.items():
        bundle = DATA / name
        blobs = bundle / "weights"
        weights = {f"@model_path/weights/{p.name}": p.read_bytes() for p in sorted(blobs.glob("*.bin"))}
        out.append(Seed(name, (bundle / "model.mil").read_text(), weights, share))
    out.extend(Seed(p.stem, p.read_text()) for p in sorted((DATA / "ane_examples").glob("*.mil")))
    return out


def seeds() -> list[Seed]:
    """Every seed: corpus bundles (with their real weight files), the docs' ANE examples, builder programs."""
    return _read_seeds() + _built_seeds()


def picker(all_seeds: list[Seed], rng: random.Random) -> Callable[[], Seed]:
    """A function drawing seeds by their :attr:`Seed.share`."""
    shares = [s.share for s in all_seeds]
    return lambda: rng.choices(all_seeds, shares)[0]


# ------------------------------------------------------------------------------------------------- mutations
_OPS = sorted(OP_REGISTRY)
_DTYPES = ["fp16", "fp32", "int32", "int8", "uint8", "bool", "int16", "fp64", "string", "uint4"]
_NUMBERS = ["0", "1", "2", "3", "-1", "7", "31", "32", "33", "64", "65536", "65537", "16384", str(2**31),
            str(2**63), str(2**70), "0x1p+0", "-0x1p+16", "inf", "-inf", "nan", "1e-45", "65504", "1e39"]
_TOKENS = ["(", ")", "[", "]", "{", "}", "<", ">", ",", "=", ";", "->", "?", '"', "//", "\n", "tensor", "state",
           "BLOBFILE", "const", "ios15", "ios18", "program(1.0)", "program(1.3)", "true", "false", "@model_path"]
_NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?")
_IDENT = re.compile(r"\b[a-z_][a-z0-9_]*\b")


def _text_mutation(text: str, rng: random.Random) -> str:
    """One structural or lexical change, biased towards changes that still parse (they reach further):
    numbers, dtypes, op types, whole statements, identifiers, outputs, opset/header, swapped arguments or a
    dropped bracketed span; else a token inserted, a character replaced, a truncation or a deleted span."""
    # Kinds 0-7 mostly keep the text parseable, so those cases reach validation, emit, compile and run.
    kind = rng.randrange(8) if rng.random() < 0.8 else rng.randrange(8, 12)
    lines = text.split("\n")
    if kind == 0:  # a number (dimension, offset, literal, axis ...) replaced
        spans = [m.span() for m in _NUM.finditer(text)]
        if spans:
            i, j = rng.choice(spans)
            return text[:i] + rng.choice(_NUMBERS) + text[j:]
    if kind == 1:  # a dtype replaced
        spans = [m.span() for m in re.finditer(r"\b(?:fp16|fp32|int32|int8|uint8|bool)\b", text)]
        if spans:
            i, j = rng.choice(spans)
            return text[:i] + rng.choice(_DTYPES) + text[j:]
    if kind == 2:  # an op replaced by another registered op
        spans = [m.span(1) for m in re.finditer(r"= ([a-z_0-9]+)\(", text)]
        if spans:
            i, j = rng.choice(spans)
            return text[:i] + rng.choice(_OPS) + text[j:]
    if kind == 3 and len(lines) > 4:  # a statement dropped, duplicated or moved
        i = rng.randrange(2, len(lines) - 2)
        how = rng.randrange(3)
        if how == 0:
            del lines[i]
        elif how == 1:
            lines.insert(i, lines[i])
        else:
            lines.insert(rng.randrange(2, len(lines) - 1), lines.pop(i))
        return "\n".join(lines)
    if kind == 4:  # an identifier renamed (undefined / redefined variables, unknown inputs)
        spans = [m.span() for m in _IDENT.finditer(text)]
        if spans:
            i, j = rng.choice(spans)
            return text[:i] + rng.choice(["x", "y", "a", "name", "val", "weight", "axes", "zz"]) + text[j:]
    if kind == 5:  # the outputs changed (duplicates, unknown names, none)
        m = re.search(r"\} -> \(([^)]*)\)", text)
        if m:
            outs = [o.strip() for o in m.group(1).split(",") if o.strip()]
            choice = rng.choice([outs + outs[:1], outs[:0], ["x"], outs[::-1], ["nope"]])
            return text[: m.start(1)] + ", ".join(choice) + text[m.end(1) :]
    if kind == 6:  # opset or header changed
        spans = [m.span() for m in re.finditer(r"ios1[5-8]|program\(1\.[03]\)", text)]
        if spans:
            i, j = rng.choice(spans)
            return text[:i] + rng.choice(["ios15", "ios16", "ios17", "ios18", "ios99", "program(1.0)",
                                          "program(1.3)", "program(2.0)"]) + text[j:]
    if kind == 7 and rng.random() < 0.5:  # two bound variables of one statement swapped
        calls = list(re.finditer(r"\(([a-z_]+ = [A-Za-z_][\w]*(?:, [a-z_]+ = [A-Za-z_][\w]*)+)\)", text))
        if calls:
            m = rng.choice(calls)
            pairs = [p.split(" = ") for p in m.group(1).split(", ")]
            i, j = rng.sample(range(len(pairs)), 2)
            pairs[i][1], pairs[j][1] = pairs[j][1], pairs[i][1]
            return text[: m.start(1)] + ", ".join(f"{k} = {v}" for k, v in pairs) + text[m.end(1) :]
    if kind == 7:  # a bracketed span dropped (an argument list, a shape, an attribute list)
        spans = [m.span() for m in re.finditer(r"\[[^\[\]\n]*\]|\([^()\n]*\)", text)]
        if spans:
            i, j = rng.choice(spans)
            return text[:i] + text[i:j][:1] + text[j - 1 :]
    n = len(text)
    i = rng.randrange(n + 1)
    if kind == 8:
        return text[:i] + rng.choice(_TOKENS) + text[i:]
    if kind == 9:
        return text[:i] + chr(rng.randrange(32, 127)) + text[i + 1 :]
    if kind == 10:
        return text[:i]  # truncated
    j = min(n, i + rng.randint(1, 40))
    return text[:i] + text[j:]  # a span deleted


def _weight_mutation(weights: dict[str, bytes], rng: random.Random) -> dict[str, bytes]:
    """One corrupted field of one weight file: header count/version, a record's sentinel, dtype code, size,
    data offset or padding, a truncation, or random bytes (docs/internals/mil-format.md §9)."""
    if not weights:
        return weights
    path = rng.choice(sorted(weights))
    data = bytearray(weights[path])
    record = 64 * rng.randrange(1, max(2, len(data) // 64))
    kind = rng.randrange(7)
    if kind == 0:
        struct.pack_into("<I", data, 0, rng.choice([0, 1, 2**31, 2**32 - 1]))  # count
    elif kind == 1:
        struct.pack_into("<I", data, 4, rng.choice([0, 1, 3]))  # version
    elif kind == 2 and record + 64 <= len(data):
        field_at, fmt = rng.choice([(0, "<I"), (4, "<I"), (8, "<Q"), (16, "<Q"), (24, "<Q")])
        value = rng.choice([0, 1, 32, 64, 96, 2**31, 2**63, 2**64 - 1])
        struct.pack_into(fmt, data, record + field_at, value & ((1 << (8 * struct.calcsize(fmt))) - 1))
    elif kind == 3:
        del data[rng.randrange(len(data) + 1) :]
    else:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    out = dict(weights)
    out[path] = bytes(data)
    return out


def mutate(seed: Seed, rng: random.Random) -> tuple[str, dict[str, bytes]]:
    """1-3 text mutations (mostly one); for a seed with weights, sometimes a weight-file corruption instead or
    as well."""
    text, weights = seed.text, seed.weights
    if weights and rng.random() < 0.25:
        weights = _weight_mutation(weights, rng)
        if rng.random() < 0.5:
            return text, weights
    for _ in range(rng.choice((1, 1, 2, 3))):
        text = _text_mutation(text, rng)
    return text, weights


# -------------------------------------------------------------------------------------------------- the chain
class Hang(Exception):
    """A case ran past its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread when the block runs longer than ``seconds``."""

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _inputs(fn: mil.Function, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
    """Random values of the declared input types, or None when a run is pointless (dynamic or huge)."""
    out = {}
    for name, v in fn.inputs.items():
        t = v.type
        if not isinstance(t, mil.TensorType) or not t.is_static or (t.numel or 0) > MAX_RUN_ELEMENTS:
            return None
        dt = t.dtype
        if dt.is_float:
            out[name] = rng.uniform(-2, 2, t.shape).astype(np.float16 if dt.name == "fp16" else np.float32)
        elif dt.name == "bool":
            out[name] = rng.integers(0, 2, t.shape).astype(bool)
        elif dt.np_dtype is not None and dt.is_int:
            out[name] = rng.integers(0, 4, t.shape).astype(dt.np_dtype)
        else:
            return None
    return out


def run_chain(text: str, weights: dict[str, bytes], rng: np.random.Generator) -> str:
    """Drive one case through the chain; returns how far it got (``"parse"``, ``"emit"``, ``"compile"``,
    ``"run"``, ``"ran"``). Raises AssertionError for a finding (a foreign exception or a broken invariant)."""
    stage = "parse"
    try:
        prog = mil.parse(text, weights=weights or None)
        stage = "validate"
        # Target "any" with the text (header and dialect rules); compile validates for "ane" again.
        diags = mil.validate(prog, "any", text=text)
        assert all(isinstance(d, mil.Diagnostic) and d.message for d in diags)
        stage = "emit"
        again_text = prog.to_mil()
        again = mil.parse(again_text, weights=prog.weights() if weights else None)
        assert again.structural_diff(prog) is None, again.structural_diff(prog)
        assert again.to_mil() == again_text  # emitting is deterministic and a fixed point
        stage = "compile"
        fn = prog.main
        kernel = anekit.compile(prog, backend="reference", cache=False, function=fn.name)
        stage = "run"  # from here on, an error is a finding: the program validated and compiled
        feed = _inputs(fn, rng)
        if feed is None:
            kernel.close()
            return "compile"
        try:
            result = kernel(**feed)
        finally:
            kernel.close()
        assert set(result) == {v.name for v in fn.outputs}
        for v in fn.outputs:
            assert tuple(np.shape(result[v.name])) == tuple(v.type.shape), (v.name, np.shape(result[v.name]))
        return "ran"
    except AnekitError as exc:
        if stage == "run":
            raise AssertionError(f"a program that validated and compiled failed to run: {exc}") from exc
        message = str(exc).strip()
    if not message:
        raise AssertionError(f"an anekit error without a message at {stage}")
    return stage
