"""Train flashcl's embedded model: Phi-2's architecture and tokenizer, small, on Python source.

Data: the .py files of the CPython standard library on the machine that runs this (Python 3.12 on
the GPU machine; PSF License Version 2), site-packages and test suites excluded. Files whose name
hashes to 0 mod 50 are held out; their loss and perplexity are reported and written to
training.json. The model (PhiForCausalLM: gelu_new, parallel block, partial rotary 0.4, head_dim
80, tied embeddings) is saved as fp16 safetensors with Phi-2's tokenizer files, loadable by
from_pretrained. Then transformers generates greedily (fp32 math on the saved fp16 weights) from
the seed prompt; flashcl must produce the same tokens (expected.json).

    python3 testdata/embedded/train.py [OUT_DIR]      (GPU machine; about two minutes on an H100)
"""
import glob
import json
import math
import os
import random
import shutil
import sys
import sysconfig
import time
import zlib

import torch
from tokenizers import Tokenizer
from transformers import PhiConfig, PhiForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1] if len(sys.argv) > 1 else here
tokdir = os.path.join(here, "..", "tokenizer")
SEED, SEQ, BATCH, STEPS, LR, MAX_SECONDS = 1234, 512, 32, 4000, 3e-3, 240
torch.manual_seed(SEED)
random.seed(SEED)
dev = "cuda"

stdlib = sysconfig.get_paths()["stdlib"]
files = sorted(f for f in glob.glob(os.path.join(stdlib, "**", "*.py"), recursive=True)
               if "site-packages" not in f and "/test" not in f[len(stdlib):] and "/tests/" not in f)
tok = Tokenizer.from_file(os.path.join(tokdir, "tokenizer.json"))
EOT = 50256


def encode(paths):
    texts = []
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    ids = []
    for enc in tok.encode_batch(texts, add_special_tokens=False):
        ids.extend(enc.ids)
        ids.append(EOT)
    return torch.tensor(ids, dtype=torch.long)


held = [f for f in files if zlib.crc32(os.path.relpath(f, stdlib).encode()) % 50 == 0]
train_files = [f for f in files if f not in set(held)]
train, valid = encode(train_files), encode(held)
print(f"python {sys.version.split()[0]} stdlib {stdlib}: {len(train_files)} train files ({len(train)} tokens), "
      f"{len(held)} held-out files ({len(valid)} tokens)", flush=True)

cfg = PhiConfig(vocab_size=50304, hidden_size=160, intermediate_size=640, num_hidden_layers=6,
                num_attention_heads=2, num_key_value_heads=2, partial_rotary_factor=0.4,
                max_position_embeddings=2048, rope_theta=10000.0, layer_norm_eps=1e-5, hidden_act="gelu_new",
                tie_word_embeddings=True, bos_token_id=EOT, eos_token_id=EOT, resid_pdrop=0.0, embd_pdrop=0.0)
model = PhiForCausalLM(cfg).to(dev)
params = sum(p.numel() for p in model.parameters())
opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.1)
gen = torch.Generator().manual_seed(SEED)


def batch(data):
    starts = torch.randint(0, len(data) - SEQ - 1, (BATCH,), generator=gen)
    x = torch.stack([data[s:s + SEQ + 1] for s in starts.tolist()]).to(dev)
    return x[:, :-1], x[:, 1:]


def loss_of(x, y):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(input_ids=x).logits
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))


t0, step = time.time(), 0
model.train()
for step in range(1, STEPS + 1):
    lr = LR * min(1.0, step / 200) * 0.5 * (1 + math.cos(math.pi * step / STEPS))
    for g in opt.param_groups:
        g["lr"] = lr
    x, y = batch(train)
    loss = loss_of(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if step % 250 == 0:
        print(f"step {step} loss {loss.item():.3f} lr {lr:.2e} {time.time() - t0:.0f}s", flush=True)
    if time.time() - t0 > MAX_SECONDS:
        print(f"stopped at step {step}: {MAX_SECONDS} s cap", flush=True)
        break
train_seconds = time.time() - t0

model.eval()
with torch.no_grad():   # held-out loss over non-overlapping windows
    n = (len(valid) - 1) // SEQ
    losses = []
    for i in range(0, n, BATCH):
        xs = torch.stack([valid[j * SEQ:(j + 1) * SEQ + 1] for j in range(i, min(n, i + BATCH))]).to(dev)
        losses.append((loss_of(xs[:, :-1], xs[:, 1:]).item(), len(xs)))
    held_loss = sum(l * k for l, k in losses) / sum(k for _, k in losses)

os.makedirs(out, exist_ok=True)
model.to(torch.float16).save_pretrained(out)
for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
    shutil.copy(os.path.join(tokdir, name), out)

prompt = "def factorial(n):\n    \"\"\"\n    Calculate the factorial of a number n\n    \"\"\"\n"
ref = PhiForCausalLM.from_pretrained(out, dtype=torch.float32).to(dev).eval()
ids = tok.encode(prompt, add_special_tokens=False).ids
with torch.no_grad():
    gen_ids, margins = list(ids), []
    for _ in range(200):
        logits = ref(input_ids=torch.tensor([gen_ids], device=dev)).logits[0, -1]
        top = torch.topk(logits, 2)
        nxt = int(top.indices[0])
        margins.append(float(top.values[0] - top.values[1]))
        if nxt == EOT:
            break
        gen_ids.append(nxt)
new = gen_ids[len(ids):]
text = tok.decode(new, skip_special_tokens=False)
report = {"python": sys.version.split()[0], "licence": "PSF License Version 2 (CPython standard library)",
          "train_files": len(train_files), "train_tokens": len(train), "heldout_files": len(held),
          "heldout_tokens": len(valid), "steps": step, "train_seconds": round(train_seconds, 1),
          "parameters": params, "heldout_loss": round(held_loss, 4), "heldout_perplexity": round(math.exp(held_loss), 3),
          "seq": SEQ, "batch": BATCH, "lr": LR, "seed": SEED, "torch": torch.__version__}
with open(os.path.join(out, "training.json"), "w") as f:
    json.dump(report, f, indent=1)
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump({"prompt": prompt, "prompt_ids": ids, "new_ids": new, "text": text,
               "stopped_at_eos": len(new) < 200, "min_margin": min(margins), "margins": margins}, f, indent=1)
print(json.dumps(report))
print("min top-1/top-2 margin %.4f" % min(margins))
print(prompt + text)
