"""Fuzzing the parser: mutated corpus files and generated token soup.

Invariant: ``parse`` either returns a Program that re-prints and re-parses to the same structure, or raises
MILParseError with a position — never another exception type and never a hang.
"""

from __future__ import annotations

import random
import time

import pytest
from _corpus import ANE_EXAMPLES, CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anekit.errors import MILParseError
from anekit.mil import parse

# Small real files (parsing the 150-240 kB MiniLM files 10 000 times would take minutes).
SEEDS = [p.joinpath("model.mil").read_text() for p in CORPUS if p.joinpath("model.mil").stat().st_size < 16_000]
SEEDS += [p.read_text() for p in ANE_EXAMPLES]
VOCAB = [
    "program",
    "(",
    ")",
    "1.0",
    "1.3",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    ",",
    "=",
    ";",
    "->",
    "func",
    "main",
    "ios16",
    "ios18",
    "tensor",
    "fp16",
    "int32",
    "string",
    "bool",
    "state",
    "tuple",
    "dict",
    "list",
    "?",
    "const",
    "name",
    "val",
    "x",
    "y",
    '"a"',
    "0x1p+0",
    "-inf",
    "nan",
    "true",
    "BLOBFILE",
    "path",
    "offset",
    "uint64",
    "64",
    "-1",
    "//c\n",
    "\n",
    " ",
    "1e-05",
    "add",
    "@model_path",
    '"',
    "$",
    "0x",
    "p+",
]


def _mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        n = len(text)
        i, j = sorted(rng.randrange(n + 1) for _ in range(2))
        kind = rng.randrange(7)
        if kind == 0:
            text = text[:i] + text[j : j + rng.randint(0, 40)] + text[j:]  # delete or shrink a span
            text = text[:i] + text[min(n, i + rng.randint(1, 30)) :]
        elif kind == 1:
            text = text[:i] + rng.choice(VOCAB) + text[i:]
        elif kind == 2:
            text = text[:i] + text[i:j][:200] + text[i:]  # duplicate a span
        elif kind == 3:
            text = text[:i]  # truncate
        elif kind == 4:
            text = text[:i] + chr(rng.randrange(32, 127)) + text[i + 1 :]
        elif kind == 5:
            text = text[:i] + text[j:] + text[i:j]  # move a span to the end
        else:
            text = text.replace(rng.choice([",", "=", "(", ")", "[", "]", "<", ">"]), rng.choice(VOCAB), 1)
    return text


def _check(text: str) -> float:
    start = time.perf_counter()
    error: MILParseError | None = None
    try:
        prog = parse(text)
    except MILParseError as exc:
        error = exc
    if error is not None:
        assert error.line >= 1
        assert error.col >= 1
        assert "^" in error.excerpt
        return time.perf_counter() - start
    again = parse(prog.to_mil())
    assert again.structural_diff(prog) is None
    return time.perf_counter() - start


def _run(n: int, seed: int) -> None:
    rng = random.Random(seed)
    worst = 0.0
    for _ in range(n):
        worst = max(worst, _check(_mutate(rng.choice(SEEDS), rng)))
    # A hang detector, not a performance assertion: linear parsing of a <16 kB text takes milliseconds.
    assert worst < 5.0


def test_mutated_corpus_fast() -> None:
    _run(300, seed=1)


@pytest.mark.slow
def test_mutated_corpus_10k() -> None:
    _run(10_000, seed=2)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCAB), max_size=60))
def test_token_soup(tokens: list[str]) -> None:
    _check(" ".join(tokens))
    _check("program(1.3)\n{\n func main<ios18>(fp16 x) {\n" + " ".join(tokens) + "\n } -> (x);\n}")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    _check(text)
    _check("program(1.0)\n" + text)
