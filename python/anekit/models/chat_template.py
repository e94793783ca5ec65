"""Chat templates: the Jinja template a GGUF stores under ``tokenizer.chat_template``, rendered as Hugging Face
transformers' ``apply_chat_template`` renders it.

transformers compiles the template in an immutable sandbox with ``trim_blocks`` and ``lstrip_blocks``, the
``loopcontrols`` extension, a ``tojson`` filter that does not escape HTML, and the globals ``raise_exception``,
``strftime_now``, ``dict`` and ``namespace``; it renders with ``messages``, ``tools``, ``documents``,
``add_generation_prompt`` and the special tokens (``bos_token``, ``eos_token``, ...). The same environment and
variables are used here, so templates render to the same string. ``jinja2`` is part of the ``llm`` extra and is
imported only when a template is rendered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..errors import TokenizerError

__all__ = ["CHAT_ROLES", "render_chat"]

_ROLES_HINT = "each message must be a dict with a 'role' and a 'content' string"
#: The roles chat templates know: OpenAI's and Hugging Face's (system, user, assistant, tool, developer) and those of
#: Llama 3.1's (ipython) and older function-calling templates (function). A template renders any other role without
#: complaint (SmolLM2's turns it into a header of that name), so a typo such as "usr" would silently change the
#: prompt instead of failing.
CHAT_ROLES = ("system", "user", "assistant", "tool", "developer", "ipython", "function")


def _jinja() -> Any:
    try:
        import jinja2
        import jinja2.ext
        import jinja2.sandbox
    except ImportError as exc:
        raise ImportError("chat templates need jinja2: pip install 'anekit[llm]'") from exc
    return jinja2


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    jinja2 = _jinja()

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False):
        # Jinja's own tojson escapes <, >, & and ' for HTML; chat templates want the plain JSON text.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.globals["dict"] = dict
    env.globals["namespace"] = jinja2.utils.Namespace
    try:
        return env.from_string(template)
    except jinja2.exceptions.TemplateSyntaxError as exc:
        raise TokenizerError(f"the chat template does not parse: {exc} (line {exc.lineno})") from None


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if isinstance(messages, (str, Mapping)) or not isinstance(messages, Sequence) or not messages:
        raise TokenizerError(f"chat: messages must be a non-empty list of dicts; {_ROLES_HINT}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise TokenizerError(f"chat: message {i} is {m!r}; {_ROLES_HINT}")
        if m["role"] not in CHAT_ROLES:
            raise TokenizerError(f"chat: message {i} has role {m['role']!r}; expected one of {', '.join(CHAT_ROLES)}")
        # transformers drops keys whose value is None before rendering; templates test for missing keys.
        out.append({k: v for k, v in m.items() if v is not None})
    return out


def render_chat(
    template: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    add_generation_prompt: bool = True,
    special_tokens: Mapping[str, str | None] | None = None,
    **variables: Any,
) -> str:
    """The prompt text ``template`` makes of ``messages``.

    Args:
        template: the Jinja chat template (``Tokenizer.chat_template``).
        messages: ``[{"role": "system" | "user" | "assistant", "content": "..."}, ...]``.
        add_generation_prompt: end with the header that starts the assistant's turn.
        special_tokens: ``bos_token``, ``eos_token``, ``unk_token``, ``pad_token`` texts the template may use.
        **variables: further template variables (``tools``, ``documents``, ...).

    Raises:
        TokenizerError: malformed messages, or the template fails (its ``raise_exception`` message is kept).
        ImportError: jinja2 is missing.
    """
    if not isinstance(template, str) or not template:
        raise TokenizerError("chat: the model has no chat template (tokenizer.chat_template); use plain prompts")
    chat = _check_messages(messages)
    compiled = _compile(template)
    jinja2 = _jinja()
    context = {"tools": None, "documents": None, **(special_tokens or {}), **variables}
    try:
        return compiled.render(messages=chat, add_generation_prompt=bool(add_generation_prompt), **context)
    except jinja2.exceptions.TemplateError as exc:
        raise TokenizerError(f"chat: the chat template failed: {exc}") from None
