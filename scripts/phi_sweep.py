"""Random Phi models beyond Phi-2's shape, with transformers' references, for flashcl verify
(run on the GPU machine; scripts/gpu-sweep.sh runs verify on each). Seeded.

    python3 scripts/phi_sweep.py OUT_DIR

For each configuration below writes OUT_DIR/NAME/model (fp16 safetensors), reference.json (prompt
ids, greedy ids and margins) and reference.safetensors ('logits': fp32 math on the fp16 weights,
'logits_fp16': transformers' own fp16 pass), both from the checkpoint reloaded from disk. The
LayerNorm weights and biases are moved off their 1 / 0 init, and 'scale' multiplies every matrix
(activations of trained models are larger than init's).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import PhiConfig, PhiForCausalLM

CONFIGS = [
    # name, hidden, heads, layers, intermediate, vocab, rotary fraction, theta, tied, positions, prompt, weight scale
    # (head_dim x rotary fraction must be even: transformers' rotate_half fails on an odd count, and flashcl refuses it)
    ("phi-1.5-shape", 2048, 32, 4, 8192, 51200, 0.5, 10000.0, False, 2048, 256, 1.0),
    ("head-dim-96", 1536, 16, 4, 6144, 51200, 0.25, 10000.0, False, 2048, 256, 1.0),
    ("head-dim-128-full-rotary", 2048, 16, 4, 8192, 51200, 1.0, 500000.0, False, 2048, 256, 1.0),
    ("odd-head-dim-84", 840, 10, 3, 3000, 50300, 0.5, 10000.0, False, 2048, 200, 1.0),
    ("tied-embeddings", 1024, 16, 4, 4096, 51200, 0.5, 10000.0, True, 2048, 256, 1.0),
    ("phi-2-shape-scale-2", 2560, 32, 4, 10240, 51200, 0.4, 10000.0, False, 2048, 256, 2.0),
    ("phi-2-shape-scale-4", 2560, 32, 4, 10240, 51200, 0.4, 10000.0, False, 2048, 256, 4.0),
    ("long-prompt-3000", 512, 8, 3, 2048, 51200, 0.5, 10000.0, False, 4096, 3000, 1.0),
    ("one-token-prompt", 2560, 32, 2, 10240, 51200, 0.4, 10000.0, False, 2048, 1, 1.0),
]


def main():
    out = sys.argv[1]
    only = sys.argv[2:] or None
    for i, (name, h, heads, layers, f, vocab, rot, theta, tied, positions, plen, scale) in enumerate(CONFIGS):
        if only and name not in only:
            continue
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        torch.manual_seed(20261202 + i)
        cfg = PhiConfig(vocab_size=vocab, hidden_size=h, intermediate_size=f, num_hidden_layers=layers, num_attention_heads=heads,
                        num_key_value_heads=heads, partial_rotary_factor=rot, rope_theta=theta, layer_norm_eps=1e-5, hidden_act="gelu_new",
                        max_position_embeddings=positions, tie_word_embeddings=tied, bos_token_id=0, eos_token_id=0)
        with torch.device("cuda"):
            model = PhiForCausalLM(cfg)
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("layernorm.weight"):
                    p.copy_(1 + 0.1 * torch.randn_like(p))
                elif p.dim() == 1:
                    p.copy_(0.02 * torch.randn_like(p))
                elif scale != 1.0:
                    p.mul_(scale)
        model.eval().half().save_pretrained(os.path.join(d, "model"))
        del model
        gen = torch.Generator().manual_seed(1000 + i)
        prompt = torch.randint(0, min(vocab, 50000), (plen,), generator=gen)
        with torch.no_grad():
            half = PhiForCausalLM.from_pretrained(os.path.join(d, "model"), dtype=torch.float16).cuda().eval()
            logits_fp16 = half(input_ids=prompt.view(1, -1).cuda()).logits[0].float().contiguous().cpu()
            del half
            ref = PhiForCausalLM.from_pretrained(os.path.join(d, "model"), dtype=torch.float32).cuda().eval()
            res = ref(input_ids=prompt.view(1, -1).cuda(), use_cache=True)
            logits = res.logits[0].float().contiguous().cpu()
            save_file({"logits": logits, "logits_fp16": logits_fp16}, os.path.join(d, "reference.safetensors"))
            past, last, ids, margins = res.past_key_values, res.logits[0, -1], [], []
            for _ in range(32):
                top = torch.topk(last, 2)
                ids.append(int(top.indices[0]))
                margins.append(float(top.values[0] - top.values[1]))
                res = ref(input_ids=top.indices[:1].view(1, 1), past_key_values=past, use_cache=True)
                past, last = res.past_key_values, res.logits[0, -1]
            del ref, past, res
        torch.cuda.empty_cache()
        with open(os.path.join(d, "reference.json"), "w") as fh:
            json.dump({"prompt_ids": prompt.tolist(), "greedy_ids": ids, "greedy_margins": margins, "config": name}, fh)
        err = (logits_fp16 - logits).abs()
        print(f"{name}: head_dim {h // heads}, rotary {rot}, theta {theta}, tied {tied}, scale {scale}, prompt {plen}; "
              f"transformers fp16 error max {float(err.max()):.4g} mean {float(err.mean()):.4g}", flush=True)


if __name__ == "__main__":
    main()
