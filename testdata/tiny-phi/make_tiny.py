"""A small random-weight Phi model and transformers' outputs for it: the oracle for flashcl's engine.

Phi-2's shape in miniature: head_dim 80, partial_rotary_factor 0.4 (32 rotary dims), gelu_new,
parallel block, biases everywhere; 3 layers, 2 heads, a 512-entry vocabulary. Weights are drawn
so that activations are O(1) (transformers' 0.02 init leaves nearly uniform logits, which would
test little). Written by save_pretrained in three forms:
  f32/   one model.safetensors, F32
  f16/   F16, sharded (model.safetensors.index.json + shards), as the hub holds Phi-2
  bf16/  BF16, one file
and, per form, reference.safetensors + reference.json: for each prompt (token ids) the fp32
logits of every position and the hidden state after the embedding, after each layer and after
the final LayerNorm; and 32 greedy tokens (no stop token), each with its top-1/top-2 margin.
References are computed in fp32 from the weights as stored (F16/BF16 weights upcast).

    python3 testdata/tiny-phi/make_tiny.py        (GPU machine: torch 2.11, transformers 5.17)
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import PhiConfig, PhiForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20261125)
cfg = PhiConfig(vocab_size=512, hidden_size=160, intermediate_size=384, num_hidden_layers=3,
                num_attention_heads=2, num_key_value_heads=2, partial_rotary_factor=0.4,
                max_position_embeddings=256, rope_theta=10000.0, layer_norm_eps=1e-5,
                hidden_act="gelu_new", tie_word_embeddings=False, bos_token_id=0, eos_token_id=0)
model = PhiForCausalLM(cfg).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("layernorm.weight"):
            p.copy_(1 + 0.2 * torch.randn_like(p))
        elif p.dim() == 1:
            p.copy_(0.2 * torch.randn_like(p))
        elif "embed_tokens" in name:
            p.copy_(torch.randn_like(p))
        else:   # Linear [out, in]
            p.copy_(torch.randn_like(p) * 1.5 / p.shape[1] ** 0.5)

gen = torch.Generator().manual_seed(7)
PROMPTS = [[5], [1, 2, 3, 4, 5, 6, 7], torch.randint(0, 512, (40,), generator=gen).tolist(),
           torch.randint(0, 512, (130,), generator=gen).tolist()]


def forward_all(m, ids):
    """Logits [T, V] and hidden states [(L + 2), T, H]: embedding, each layer, final norm."""
    hidden = []
    hooks = [m.model.embed_tokens.register_forward_hook(lambda mod, i, o: hidden.append(o[0]))]
    for layer in m.model.layers:
        hooks.append(layer.register_forward_hook(
            lambda mod, i, o: hidden.append((o[0] if isinstance(o, tuple) else o)[0])))
    hooks.append(m.model.final_layernorm.register_forward_hook(lambda mod, i, o: hidden.append(o[0])))
    logits = m(torch.tensor([ids])).logits[0]
    for h in hooks:
        h.remove()
    return logits, torch.stack(hidden)


def greedy(m, ids, n):
    ids, margins = list(ids), []
    for _ in range(n):
        logits = m(torch.tensor([ids])).logits[0, -1]
        top = torch.topk(logits, 2)
        ids.append(int(top.indices[0]))
        margins.append(float(top.values[0] - top.values[1]))
    return ids[-n:], margins


for form, dtype, shard in [("f32", torch.float32, None), ("f16", torch.float16, "400KB"), ("bf16", torch.bfloat16, None)]:
    d = os.path.join(here, form)
    shutil.rmtree(d, ignore_errors=True)
    kwargs = {"max_shard_size": shard} if shard else {}
    model.to(dtype).save_pretrained(d, **kwargs)
    ref = PhiForCausalLM.from_pretrained(d, dtype=torch.float32).eval()   # fp32 math on stored weights
    tensors, meta = {}, {"prompts": PROMPTS, "config": d, "torch": torch.__version__}
    with torch.no_grad():
        for i, ids in enumerate(PROMPTS):
            logits, hidden = forward_all(ref, ids)
            tensors[f"prompt{i}.logits"] = logits.contiguous()
            tensors[f"prompt{i}.hidden"] = hidden.contiguous()
        tokens, margins = greedy(ref, PROMPTS[1], 32)
    meta["greedy_prompt"] = 1
    meta["greedy_tokens"] = tokens
    meta["greedy_margins"] = margins
    save_file(tensors, os.path.join(d, "reference.safetensors"))
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(form, "greedy", tokens, "min margin %.4f" % min(margins), sorted(os.listdir(d)))
    model.to(torch.float32)
