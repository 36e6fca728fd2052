"""A tiny random-weight Llama GGUF written with the ``gguf`` package (about 100 KB).

The vocabulary is three control tokens, the SentencePiece space and the byte
tokens 0x00-0x7F, so anything the model says is valid UTF-8. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_EMBD, N_FF, N_HEAD, N_LAYER, N_CTX = 32, 64, 2, 1, 16384


def write_tiny_llama(path: Path, seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    # SentencePiece writes a space as U+2581: one token for it, decoded as " "
    tokens = ["<unk>", "<s>", "</s>", "\u2581"] + [f"<0x{b:02X}>" for b in range(128)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.NORMAL] + [gguf.TokenType.BYTE] * 128
    n_vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    # no "\u2581" space prefix: it is not ASCII, and the byte tokens stop at 0x7F
    w.add_add_space_prefix(False)
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def weight(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.02, size=shape).astype(np.float32)

    w.add_tensor("token_embd.weight", weight(n_vocab, N_EMBD))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("output.weight", weight(n_vocab, N_EMBD))
    for i in range(N_LAYER):
        b = f"blk.{i}"
        w.add_tensor(f"{b}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(f"{b}.{name}.weight", weight(N_EMBD, N_EMBD))
        w.add_tensor(f"{b}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(f"{b}.ffn_gate.weight", weight(N_FF, N_EMBD))
        w.add_tensor(f"{b}.ffn_up.weight", weight(N_FF, N_EMBD))
        w.add_tensor(f"{b}.ffn_down.weight", weight(N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
