"""The anekit exception hierarchy.

Every error anekit raises on purpose derives from :class:`AnekitError`, and each one also derives from the
builtin exception a Python user would expect (``ValueError`` for invalid programs, ``RuntimeError`` for
platform and device failures), so ``except ValueError`` keeps working in code that does not know anekit.

``CompileError`` is defined here rather than in the native extension so that MIL tooling, the reference
executor and the fake framework all raise the same class; the extension's C++ ``CompileError`` is translated
into this class by the bindings.
"""

from __future__ import annotations

__all__ = [
    "AneUnavailableError",
    "AnekitError",
    "CompileBudgetExceeded",
    "CompileError",
    "EvaluateError",
    "MILError",
    "MILParseError",
    "NotDifferentiableError",
    "TokenizerError",
    "TrainingError",
]


class AnekitError(Exception):
    """Base class of every error anekit raises deliberately."""


class MILError(AnekitError, ValueError):
    """An invalid MIL program, op or type.

    Messages are prefixed ``[<op_type> '<name>']`` when they concern one operation, and name the shapes and
    dtypes involved, e.g. ``[matmul 'mm_0'] x last dim 64 != y dim -2 32``.
    """


class ConversionError(MILError):
    """A model that cannot be converted to MIL (:func:`anekit.from_torch`); the message says what to change."""


class MILParseError(MILError):
    """MIL text that does not parse.

    Attributes:
        line: 1-based line of the error (0 when unknown).
        col: 1-based column of the error (0 when unknown).
        excerpt: the offending source line followed by a caret line pointing at ``col``.
    """

    def __init__(self, message: str, *, line: int = 0, col: int = 0, excerpt: str = "") -> None:
        self.message = message
        self.line = line
        self.col = col
        self.excerpt = excerpt
        where = f"line {line}, col {col}: " if line else ""
        text = f"{where}{message}"
        if excerpt:
            text = f"{text}\n{excerpt}"
        super().__init__(text)


class NotDifferentiableError(MILError):
    """A program that :func:`anekit.autodiff.vjp` cannot differentiate.

    The message names the op, its output variable and what to do (rewrite it with ops that have a rule, listed by
    :func:`anekit.autodiff.supported_ops`, or feed the value as an input so no gradient flows through it).
    """


class AneUnavailableError(AnekitError, RuntimeError):
    """The ANE backend cannot be used here; the message says why (not macOS, framework missing, ...)."""


class CompileError(AnekitError, RuntimeError):
    """The backend rejected a program at compile or load time; carries the framework's message and code.

    Attributes:
        code: the framework's error code when one was reported, else ``None``.
        domain: the framework's error domain when one was reported, else ``None``.
    """

    def __init__(self, message: str, *, code: int | None = None, domain: str | None = None) -> None:
        self.code = code
        self.domain = domain
        super().__init__(message)


class EvaluateError(AnekitError, RuntimeError):
    """The backend failed to evaluate a compiled program."""


class CompileBudgetExceeded(AnekitError, RuntimeError):
    """A compile would pass the per-process compile limit.

    Attributes:
        used: compiles already spent in this process.
        limit: the configured limit.
    """

    def __init__(self, used: int, limit: int, hint: str = "") -> None:
        self.used = used
        self.limit = limit
        message = f"compile budget exhausted: {used} of {limit} compiles used in this process" + (
            f"; {hint}" if hint else ""
        )
        super().__init__(message)


class TokenizerError(AnekitError, ValueError):
    """A tokenizer description anekit does not support (e.g. a GGUF's ``tokenizer.ggml.model``), text or token ids
    it cannot encode or decode, or a chat template that fails to render."""


class TrainingError(AnekitError, RuntimeError):
    """A training step cannot go on: the forward pass overflowed fp16, or a checkpoint does not fit the model."""
