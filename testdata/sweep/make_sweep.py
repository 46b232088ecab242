"""Small random Phi models beyond Phi-2's shape, with transformers' references: the CI copy of
scripts/phi_sweep.py's sweep (that one makes the large models the H200 checks; these run on PoCL).

Each NAME/ holds model/ (fp16 safetensors, save_pretrained), reference.json (prompt ids, 32 greedy
ids and their top-1/top-2 margins) and reference.safetensors ('logits': fp32 math on the fp16
weights; 'logits_fp16': transformers' own fp16 pass), both from the checkpoint reloaded from disk,
which is what `flashcl verify --model NAME/model --reference NAME` reads. Weights are drawn with
unit gain (randn / sqrt(fan_in)) times the configuration's scale, LayerNorms off their 1 / 0 init,
so that attention is not diffuse and a wrong rotary or mask shows.

    python3 testdata/sweep/make_sweep.py [OUT_DIR]    (GPU machine: torch 2.11, transformers 5.17)
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import PhiConfig, PhiForCausalLM

CONFIGS = [
    # name, hidden, heads, layers, intermediate, vocab, rotary fraction, theta, tied, positions, prompt, scale
    ("phi-1.5-shape", 64, 1, 2, 128, 128, 0.5, 10000.0, False, 2048, 32, 1.0),
    ("head-dim-96", 96, 1, 1, 128, 128, 0.25, 10000.0, False, 2048, 32, 1.0),
    ("head-dim-128-full-rotary", 128, 1, 1, 128, 128, 1.0, 500000.0, False, 2048, 32, 1.0),
    ("odd-head-dim-84", 84, 1, 1, 100, 125, 0.5, 10000.0, False, 2048, 30, 1.0),
    ("tied-embeddings", 64, 2, 2, 128, 128, 0.5, 10000.0, True, 2048, 32, 1.0),
    ("phi-2-shape-scale-2", 80, 1, 2, 160, 128, 0.4, 10000.0, False, 2048, 32, 2.0),
    ("phi-2-shape-scale-4", 80, 1, 2, 160, 128, 0.4, 10000.0, False, 2048, 32, 4.0),
    ("long-prompt-2060", 64, 2, 1, 64, 32, 0.5, 10000.0, False, 4096, 2060, 1.0),
    ("one-token-prompt", 80, 1, 1, 160, 128, 0.4, 10000.0, False, 2048, 1, 1.0),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    for i, (name, h, heads, layers, f, vocab, rot, theta, tied, positions, plen, scale) in enumerate(CONFIGS):
        d = os.path.join(out, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        torch.manual_seed(20261203 + i)
        cfg = PhiConfig(vocab_size=vocab, hidden_size=h, intermediate_size=f, num_hidden_layers=layers, num_attention_heads=heads,
                        num_key_value_heads=heads, partial_rotary_factor=rot, rope_theta=theta, layer_norm_eps=1e-5, hidden_act="gelu_new",
                        max_position_embeddings=positions, tie_word_embeddings=tied, bos_token_id=0, eos_token_id=0)
        model = PhiForCausalLM(cfg).eval()
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("layernorm.weight"):
                    p.copy_(1 + 0.2 * torch.randn_like(p))
                elif p.dim() == 1:
                    p.copy_(0.2 * torch.randn_like(p))
                elif "embed_tokens" in pname:
                    p.copy_(torch.randn_like(p))
                else:   # Linear [out, in]
                    p.copy_(torch.randn_like(p) * scale / p.shape[1] ** 0.5)
        model.half().save_pretrained(os.path.join(d, "model"))
        del model
        gen = torch.Generator().manual_seed(1000 + i)
        prompt = torch.randint(0, vocab, (plen,), generator=gen)
        ids_in = prompt.view(1, -1).to(dev)
        with torch.no_grad():
            half = PhiForCausalLM.from_pretrained(os.path.join(d, "model"), dtype=torch.float16).to(dev).eval()
            logits_fp16 = half(input_ids=ids_in).logits[0].float().contiguous().cpu()
            del half
            ref = PhiForCausalLM.from_pretrained(os.path.join(d, "model"), dtype=torch.float32).to(dev).eval()
            res = ref(input_ids=ids_in, use_cache=True)
            logits = res.logits[0].float().contiguous().cpu()
            past, last, ids, margins = res.past_key_values, res.logits[0, -1], [], []
            for _ in range(32):
                top = torch.topk(last, 2)
                ids.append(int(top.indices[0]))
                margins.append(float(top.values[0] - top.values[1]))
                res = ref(input_ids=top.indices[:1].view(1, 1), past_key_values=past, use_cache=True)
                past, last = res.past_key_values, res.logits[0, -1]
        save_file({"logits": logits, "logits_fp16": logits_fp16}, os.path.join(d, "reference.safetensors"))
        with open(os.path.join(d, "reference.json"), "w") as fh:
            json.dump({"prompt_ids": prompt.tolist(), "greedy_ids": ids, "greedy_margins": margins, "config": name,
                       "torch": torch.__version__, "device": dev}, fh)
        err = (logits_fp16 - logits).abs()
        print(f"{name}: max |ref| {logits.abs().max():.3g}, transformers fp16 error max {err.max():.4g} mean {err.mean():.4g}, "
              f"min greedy margin {min(margins):.4f}")


if __name__ == "__main__":
    main()
