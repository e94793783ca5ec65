"""The PyTorch oracle: the same model, initialisation, batches and optimiser in fp32 on the CPU.

:class:`TorchTrainer` mirrors :class:`~anekit.train.Trainer` step for step — the weights come from the same
:func:`~anekit.train.model.init_params`, the batches from the same :class:`~anekit.train.data.BatchSampler` seed,
the update is ``torch.optim.AdamW`` with the same groups and learning-rate schedule, and the clipping is
``torch.nn.utils.clip_grad_norm_`` — so the two loss curves differ only by the ANE's fp16 arithmetic. It needs
``torch`` (a test and example dependency, never needed by ``import anekit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import BatchSampler
from .model import ModelConfig, init_params, rope_inputs
from .trainer import TrainConfig, learning_rate

__all__ = ["TorchTrainer"]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError("the PyTorch oracle needs torch: pip install torch (CPU build is enough)") from exc
    return torch


class TorchTrainer:
    """fp32 PyTorch training of ``model`` with ``config`` on ``tokens`` (see the module docstring)."""

    def __init__(self, model: ModelConfig, config: TrainConfig, tokens: np.ndarray) -> None:
        torch = _import_torch()
        self.torch = torch
        self.model = model
        self.config = config
        self.sampler = BatchSampler(np.asarray(tokens), model.seq, config.seed + 1)
        self.params = {
            k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in init_params(model, config.seed).items()
        }
        decay = [p for p in self.params.values() if p.ndim == 2]
        no_decay = [p for p in self.params.values() if p.ndim == 1]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr,
            betas=config.betas,
            eps=config.eps,
        )
        rope = rope_inputs(model)
        hd = model.dims.head_dim
        self.cos = torch.from_numpy(rope["cos"].reshape(hd, model.seq).T.copy())  # [S, head_dim]
        self.sin = torch.from_numpy(rope["sin"].reshape(hd, model.seq).T.copy())
        self.mask = torch.triu(torch.full((model.seq, model.seq), float("-inf")), diagonal=1)
        self.step_count = 0

    def _rms(self, x: Any, w: Any) -> Any:
        return x * self.torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.model.eps) * w

    def _rope(self, x: Any) -> Any:  # x [heads, S, head_dim]; Hugging Face's rotate_half
        half = x.shape[-1] // 2
        rotated = self.torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * self.cos + rotated * self.sin

    def loss(self, inputs: np.ndarray, targets: np.ndarray) -> Any:
        """The mean cross-entropy of one sequence (a scalar tensor with its graph)."""
        torch, p, c = self.torch, self.params, self.model
        hd, s = c.dims.head_dim, c.seq
        x = p["tok_embeddings"][torch.from_numpy(inputs)]  # [S, dim]
        for i in range(c.layers):
            w = {k.split(".", 2)[2]: v for k, v in p.items() if k.startswith(f"layers.{i}.")}
            h = self._rms(x, w["attn_norm"])
            q = self._rope((h @ w["wq"].T).view(s, c.heads, hd).transpose(0, 1))
            k = self._rope((h @ w["wk"].T).view(s, c.kv_heads, hd).transpose(0, 1))
            v = (h @ w["wv"].T).view(s, c.kv_heads, hd).transpose(0, 1)
            group = c.heads // c.kv_heads  # query head h uses K/V head h // group (Hugging Face repeat_kv)
            k, v = k.repeat_interleave(group, dim=0), v.repeat_interleave(group, dim=0)
            scores = (q / hd**0.5) @ k.transpose(1, 2) + self.mask
            a = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(s, c.dim)
            x = x + a @ w["wo"].T
            h = self._rms(x, w["ffn_norm"])
            x = x + (torch.nn.functional.silu(h @ w["w_gate"].T) * (h @ w["w_up"].T)) @ w["w_down"].T
        logits = self._rms(x, p["norm"]) @ p[c.head_weight].T  # the embedding matrix when tied
        return torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets))

    def step(self, apply: bool = True) -> float:
        """One step (the same micro-batches as :meth:`anekit.train.Trainer.step`); returns the mean loss.

        ``apply=False`` computes the loss and consumes the batches but leaves the weights alone: pass it for the
        steps the anekit run skipped (an fp16 gradient overflow under dynamic loss scaling, as
        ``torch.amp.GradScaler`` skips them too), so the two runs stay comparable step for step.
        """
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(self.config.accum):
            loss = self.loss(*self.sampler.next()) / self.config.accum
            if apply:
                loss.backward()
            total += float(loss.detach())
        if apply:
            self.torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.config.grad_clip)
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(self.config, self.step_count)
            self.optimizer.step()
        self.step_count += 1
        return total
