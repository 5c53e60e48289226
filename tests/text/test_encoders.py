"""Text encoders: interface, cache, offline MiniLM, local CLIP folder, factory, lazy import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cardiomm.errors import ModelNotFoundError, UnknownChoiceError
from cardiomm.models.heads import LMHead
from cardiomm.text import metadata_prompt, undersampling_prompt
from cardiomm.text.bert import BertEncoder
from cardiomm.text.encoders import ClipTextEncoder, HashEncoder, MiniLMEncoder, get_encoder, minilm_model_path

META = metadata_prompt("Adult", 3.0, "Siemens", "Vida", "cine", "short-axis")
META_T1 = metadata_prompt("Adult", 3.0, "Siemens", "Vida", "T1 mapping", "short-axis")
US = undersampling_prompt(16, "random")


@pytest.fixture(scope="module")
def minilm() -> MiniLMEncoder:
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    try:
        yield MiniLMEncoder()
    finally:
        mp.undo()


def test_hash_encoder_deterministic_unit_and_cached() -> None:
    enc = HashEncoder(dim=32)
    a = enc.encode([META, US, META])
    assert a.shape == (3, 32) and a.dtype == torch.float32
    assert torch.allclose(a.norm(dim=1), torch.ones(3))
    assert torch.equal(a[0], a[2]) and not torch.equal(a[0], a[1])
    assert enc.cache_info().hits == 1 and enc.cache_info().misses == 2
    a[0].zero_()  # callers cannot corrupt the cache
    assert torch.equal(enc.encode(META)[0], HashEncoder(dim=32).encode(META)[0])
    assert enc.cache_info().hits == 2
    enc.clear_cache()
    assert enc.cache_info().size == 0


def test_hash_encoder_lru_eviction() -> None:
    enc = HashEncoder(dim=8, cache_size=2)
    enc.encode(["a", "b", "c"])
    assert enc.cache_info().size == 2
    enc.encode(["a"])  # evicted, so a miss
    assert enc.cache_info().misses == 4


def test_minilm_matches_stored_sentence_transformers_embeddings(minilm: MiniLMEncoder) -> None:
    """Our BERT + tokenizers path against SentenceTransformer.encode outputs stored in tests/text/data
    (prompts of the paper's form, an empty prompt, accents, CJK and punctuation)."""
    ref = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())
    emb = minilm.encode(ref["prompts"])
    assert isinstance(minilm.model, BertEncoder) and minilm.dim == 384
    assert emb.shape == (len(ref["prompts"]), 384) and emb.dtype == torch.float32
    torch.testing.assert_close(emb, torch.tensor(ref["embeddings"]), atol=1e-6, rtol=0)
    assert not minilm.model.training
    assert all(not p.requires_grad for p in minilm.model.parameters())


def test_minilm_bert_folder_errors_name_the_file(tmp_path: Path) -> None:
    src = minilm_model_path()
    folder = tmp_path / "minilm"
    folder.mkdir()
    (folder / "config.json").write_text((src / "config.json").read_text())
    (folder / "tokenizer.json").write_text((src / "tokenizer.json").read_text())
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)  # damaged weights
    with pytest.raises(ModelNotFoundError) as info:
        MiniLMEncoder(folder)
    assert "model.safetensors" in str(info.value)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelNotFoundError) as info:
        MiniLMEncoder(folder)
    assert "tokenizer" in str(info.value) and "minilm" in str(info.value)


def test_clip_without_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "clip"}))
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed
    with pytest.raises(ModelNotFoundError, match=r"cardiomm\[clip\]"):
        get_encoder(folder)


def test_minilm_cache_hits_and_semantics(minilm: MiniLMEncoder) -> None:
    minilm.clear_cache()
    first = minilm.encode([META, META_T1])
    again = minilm.encode([META_T1, META])
    assert minilm.cache_info().hits == 2 and minilm.cache_info().misses == 2
    assert torch.equal(first[0], again[1])
    cos = first @ first.T
    assert cos[0, 1] < 0.999  # modality changes the embedding
    # embeddings feed a trainable head (not inference-mode tensors)
    LMHead(384, 8)(first).sum().backward()


def test_clip_encoder_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        ClipTextEncoder(tmp_path / "clip-vit-base-patch16")
    assert "clip-vit-base-patch16" in str(info.value)


def test_clip_encoder_loads_local_folder(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    common = dict(hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2)
    text = dict(
        vocab_size=30522,
        max_position_embeddings=77,
        bos_token_id=101,
        eos_token_id=102,
        pad_token_id=0,
        **common,
    )
    vision = dict(image_size=32, patch_size=16, **common)
    torch.manual_seed(0)
    folder = tmp_path / "clip-tiny"
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=12)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(minilm_model_path()), local_files_only=True).save_pretrained(folder)

    enc = get_encoder(folder)
    assert isinstance(enc, ClipTextEncoder) and enc.dim == 12
    emb = enc.encode([META, US])
    assert emb.shape == (2, 12) and emb.dtype == torch.float32
    reference_model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval()
    tokens = AutoTokenizer.from_pretrained(str(folder))([US], padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = reference_model.get_text_features(
            input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
        )
    ref = ref if isinstance(ref, torch.Tensor) else ref.pooler_output
    assert torch.allclose(emb[1], ref[0], atol=1e-5)


def test_get_encoder_factory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert get_encoder("hash:24").dim == 24
    assert isinstance(get_encoder("hash"), HashEncoder)
    monkeypatch.delenv("CARDIOMM_CLIP_DIR", raising=False)
    with pytest.raises(ModelNotFoundError):
        get_encoder("clip")
    monkeypatch.setenv("CARDIOMM_CLIP_DIR", str(tmp_path / "absent"))
    with pytest.raises(ModelNotFoundError):
        get_encoder("clip")
    with pytest.raises(ModelNotFoundError):
        get_encoder(str(tmp_path / "no_such_model"))
    with pytest.raises(UnknownChoiceError):
        get_encoder("gpt-17")


def test_import_cardiomm_text_is_light() -> None:
    code = (
        "import sys, cardiomm.text, cardiomm.text.encoders; "
        "print('transformers' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = run.stdout.split()
    assert out == ["False", "False"]
