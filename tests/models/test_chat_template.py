"""anekit.models.chat_template: the transformers rendering environment (trim_blocks, lstrip_blocks, loop controls,
non-escaping tojson, raise_exception, special tokens) and clear errors."""

from __future__ import annotations

import pytest

from anekit.errors import TokenizerError
from anekit.models.chat_template import render_chat

pytest.importorskip("jinja2")

USER = [{"role": "user", "content": "a <b> & 'c'"}]


def test_blocks_are_trimmed_and_tojson_does_not_escape_html() -> None:
    template = (
        "{% for m in messages %}\n"
        "    {% if m.role == 'user' %}\n"
        "[{{ m.content | tojson }}]\n"
        "    {% endif %}\n"
        "{% endfor %}\n"
        "{% if add_generation_prompt %}{{ bos_token }}>{% endif %}"
    )
    # trim_blocks drops the newline after a tag, lstrip_blocks the indentation before one.
    assert render_chat(template, USER, special_tokens={"bos_token": "<s>"}) == '["a <b> & \'c\'"]\n<s>>'
    assert render_chat(template, USER, add_generation_prompt=False) == '["a <b> & \'c\'"]\n'


def test_loop_controls_and_namespace_are_available() -> None:
    template = (
        "{% set ns = namespace(n=0) %}{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}"
        "{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}"
    )
    messages = [{"role": "system", "content": "s"}, *USER, {"role": "assistant", "content": "x"}]
    assert render_chat(template, messages) == "2"


def test_template_errors_are_tokenizer_errors() -> None:
    with pytest.raises(TokenizerError, match="only user turns"):
        render_chat("{{ raise_exception('only user turns') }}", USER)
    with pytest.raises(TokenizerError, match="does not parse"):
        render_chat("{% for %}", USER)
    with pytest.raises(TokenizerError, match="no chat template"):
        render_chat("", USER)
    with pytest.raises(TokenizerError, match="message 0 is"):
        render_chat("x", [{"role": "user"}])
    with pytest.raises(TokenizerError, match="non-empty list"):
        render_chat("x", "hello")  # type: ignore[arg-type]


def test_the_sandbox_refuses_attribute_escapes() -> None:
    with pytest.raises(TokenizerError, match="'__class__' of 'list' object is unsafe"):
        render_chat("{{ messages.__class__.__mro__ }}", USER)


def test_unknown_roles_are_refused() -> None:
    """A typo in a role would otherwise render as a header of that name (SmolLM2's template accepts any role)."""
    template = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"
    assert render_chat(template, [{"role": "tool", "content": "42"}]) == "<|tool|>42"
    with pytest.raises(TokenizerError, match="message 1 has role 'usr'; expected one of system, user, assistant"):
        render_chat(template, [{"role": "system", "content": "s"}, {"role": "usr", "content": "hi"}])
