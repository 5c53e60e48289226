"""A BERT text encoder (post-LayerNorm, absolute positions) read straight from a Hugging Face folder.

Enough of BERT to run sentence encoders such as ``all-MiniLM-L6-v2`` offline without ``transformers``:
the module names mirror the Hugging Face ``BertModel`` state dict, so ``model.safetensors`` loads with
``strict`` key checking; tokenisation is the folder's own ``tokenizer.json`` through the ``tokenizers``
library (or its ``vocab.txt`` with the standard uncased WordPiece rules). Inference only: no dropout.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from cardiomm.errors import ModelNotFoundError

__all__ = ["BertConfig", "BertEncoder", "load_bert_tokenizer"]


@dataclass(frozen=True)
class BertConfig:
    """The fields of a Hugging Face BERT ``config.json`` this encoder uses."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    @classmethod
    def from_json(cls, path: Path) -> BertConfig:
        """Read ``config.json``; :class:`~cardiomm.errors.ModelNotFoundError` unless it is a BERT."""
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelNotFoundError(f"unreadable text-encoder config: {exc}", path=path) from None
        if raw.get("model_type") != "bert" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise ModelNotFoundError("not a BERT encoder with absolute positions", path=path)
        if raw.get("hidden_act", "gelu") not in ("gelu", "relu"):
            raise ModelNotFoundError(f"unsupported activation {raw.get('hidden_act')!r}", path=path)
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in names})


class _Dense(nn.Module):
    """``LayerNorm(dense(x) + residual)``, named as in Hugging Face BERT."""

    def __init__(self, n_in: int, n_out: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        self.LayerNorm = nn.LayerNorm(n_out, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _SelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        n, length, width = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(n, length, self.heads, width // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(width // self.heads) + bias
        return (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, length, width)


class _Attention(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.self = _SelfAttention(cfg)
        self.output = _Dense(cfg.hidden_size, cfg.hidden_size, cfg.layer_norm_eps)


class _Intermediate(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = nn.GELU() if cfg.hidden_act == "gelu" else nn.ReLU()  # "gelu" is the exact erf form


class _Layer(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attention = _Attention(cfg)
        self.intermediate = _Intermediate(cfg)
        self.output = _Dense(cfg.intermediate_size, cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention.output(self.attention.self(x, bias), x)
        return self.output(self.intermediate.act(self.intermediate.dense(x)), x)


class _Embeddings(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)


class _Stack(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(cfg) for _ in range(cfg.num_hidden_layers))


class BertEncoder(nn.Module):
    """BERT encoder: token ids ``(n, L)`` -> last hidden states ``(n, L, hidden_size)``.

    Parameters
    ----------
    config
        Architecture (see :class:`BertConfig`).
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Stack(config)

    @classmethod
    def from_folder(cls, folder: str | Path) -> BertEncoder:
        """Load ``config.json`` + ``model.safetensors`` of a Hugging Face BERT folder (frozen, eval)."""
        folder = Path(folder)
        model = cls(BertConfig.from_json(folder / "config.json"))
        weights = folder / "model.safetensors"
        if not weights.is_file():
            raise ModelNotFoundError("text encoder folder lacks model.safetensors", path=folder)
        try:
            state = load_file(str(weights))
        except Exception as exc:  # safetensors raises its own SafetensorError / OSError on damage
            raise ModelNotFoundError(f"unreadable text-encoder weights: {exc}", path=weights) from None
        # the pooler (CLS head) and the position-id buffer are not used by mean-pooled sentence encoders
        state = {k.removeprefix("bert."): v for k, v in state.items()}
        state = {
            k: v for k, v in state.items() if not k.startswith("pooler.") and not k.endswith("position_ids")
        }
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise ModelNotFoundError(f"weights do not match config.json: {first}", path=weights) from None
        return model.requires_grad_(False).eval()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states ``(n, L, hidden)``; ``attention_mask`` ``(n, L)`` is 1 for tokens, 0 for padding."""
        n, length = input_ids.shape
        if length > self.config.max_position_embeddings:
            raise ValueError(f"{length} tokens exceed {self.config.max_position_embeddings} positions")
        positions = torch.arange(length, device=input_ids.device)
        types = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)
        emb = self.embeddings
        x = (
            emb.word_embeddings(input_ids)
            + emb.position_embeddings(positions)
            + emb.token_type_embeddings(types)
        )
        x = emb.LayerNorm(x)
        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x


def load_bert_tokenizer(folder: str | Path, max_length: int = 512) -> Any:
    """The folder's ``tokenizers.Tokenizer`` (``tokenizer.json``, else uncased WordPiece on ``vocab.txt``).

    Encodings carry ``[CLS] ... [SEP]`` and are truncated to ``max_length`` tokens.
    """
    from tokenizers import Tokenizer  # noqa: PLC0415 - light Rust tokenizer; imported here to keep `import cardiomm` fast
    from tokenizers.implementations import BertWordPieceTokenizer  # noqa: PLC0415 - lazy: importing this module loads no tokenizers

    folder = Path(folder)
    tokenizer: Tokenizer | BertWordPieceTokenizer
    try:
        if (folder / "tokenizer.json").is_file():
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        elif (folder / "vocab.txt").is_file():
            tokenizer = BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=True)
        else:
            raise ModelNotFoundError("text encoder folder lacks tokenizer.json and vocab.txt", path=folder)
    except Exception as exc:  # tokenizers raises plain Exception subclasses on malformed files
        if isinstance(exc, ModelNotFoundError):
            raise
        raise ModelNotFoundError(f"unreadable tokenizer: {exc}", path=folder) from None
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer
