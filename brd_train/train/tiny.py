"""A tiny random-initialised Llama with a given tokenizer: the student of CPU tests, benchmarks
and the demo. Two layers of width 64 over SmolLM2's 49,152-token vocabulary: 3.2M parameters,
almost all of them the (tied) embedding."""

from __future__ import annotations

from pathlib import Path

from brd_data.contracts.outputs import OutputKind, staged


def make_tiny_student(
    out: str | Path,
    tokenizer_dir: str | Path,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    context: int = 512,
    seed: int = 0,
) -> Path:
    """Write a loadable model folder (config, safetensors, tokenizer) to `out`; idempotent."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = Path(out)
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=context,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with staged(out, OutputKind.MODEL, what="student folder") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
    return out


def make_tiny_tokenizer(out: str | Path, texts: list[str], *, vocab_size: int = 1024, byte_level: bool = True) -> Path:
    """Train a small BPE tokenizer on `texts` and write it as a transformers tokenizer folder;
    idempotent. Its vocabulary is not the teacher's: the student of a test or a rehearsal that
    needs its own tokenizer (byte-level like GPT-2, or whitespace-split with a word prefix like
    XGLM's SentencePiece), built offline in seconds."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    out = Path(out)
    if (out / "tokenizer.json").is_file():
        return out
    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    if byte_level:
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        alphabet = []
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=alphabet)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    with staged(out, OutputKind.MODEL, what="tokenizer folder") as tmp:
        fast.save_pretrained(tmp)
    return out
