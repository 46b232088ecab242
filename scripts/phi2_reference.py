"""A random-weight model at Phi-2's full dimensions, transformers' reference outputs for it, and
transformers' speed on it (run on the GPU machine; nothing here is committed but this script).

    python3 scripts/phi2_reference.py OUT_DIR [--speed]

writes OUT_DIR/model (fp16, sharded safetensors as the hub holds Phi-2: model-0000N-of-0000M +
index), OUT_DIR/reference.json (the 512 prompt ids, seeded; 64 greedy ids with their top-1/top-2
margins) and OUT_DIR/reference.safetensors ('logits' [512, 51200], fp32 math on the fp16 weights;
'logits_fp16', transformers' own fp16 forward pass on the same prompt, the baseline flashcl verify
judges flashcl's error by). Both come from the checkpoint reloaded from disk, as flashcl reads it:
the live model's .half() also rounds the rotary inv_freq buffer to fp16, which a saved checkpoint
never carries (it is recomputed at load).
The weights are transformers' random init (seeded) but for the LayerNorm weights (1 + 0.1 N(0, 1))
and every bias (0.02 N(0, 1)), which it would leave at 1 and 0 (since 2026-12-02).
With --speed, also times transformers on the fp16 model (sdpa and eager): a 2048-token forward
pass and generate() of 64 new tokens after prompts of 128, 512 and 2000 tokens (medians), and
writes OUT_DIR/transformers_speed.json, with the card's read bandwidth (a sum over 4 GiB of fp16,
median of 10 after 3 warm-ups) and the batch-1 decode limit it sets: every step streams all weights.
"""
import json
import os
import sys
import time

import torch
from safetensors.torch import save_file
from transformers import PhiConfig, PhiForCausalLM

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(20261125)
cfg = PhiConfig(vocab_size=51200, hidden_size=2560, intermediate_size=10240, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=32, partial_rotary_factor=0.4, rope_theta=10000.0, layer_norm_eps=1e-5, hidden_act="gelu_new",
                max_position_embeddings=2048, tie_word_embeddings=False, bos_token_id=50256, eos_token_id=50256)
t0 = time.time()
with torch.device("cuda"):
    model = PhiForCausalLM(cfg)
with torch.no_grad():   # LayerNorm weights and every bias off their 1 / 0 init, so that verify checks them too
    for name, p in model.named_parameters():
        if name.endswith("layernorm.weight"):
            p.copy_(1 + 0.1 * torch.randn_like(p))
        elif p.dim() == 1:
            p.copy_(0.02 * torch.randn_like(p))
model.eval().half()
params = sum(p.numel() for p in model.parameters())
model.save_pretrained(os.path.join(out, "model"), max_shard_size="5GB")
print(f"{params} parameters, saved fp16 in {time.time() - t0:.1f} s:", sorted(os.listdir(os.path.join(out, "model"))), flush=True)

del model
torch.cuda.empty_cache()
gen = torch.Generator().manual_seed(512)
prompt = torch.randint(0, 50000, (512,), generator=gen)
with torch.no_grad():   # transformers' fp16 baseline, from the checkpoint on disk
    half = PhiForCausalLM.from_pretrained(os.path.join(out, "model"), dtype=torch.float16).cuda().eval()
    logits_fp16 = half(input_ids=prompt.view(1, -1).cuda()).logits[0].float().contiguous().cpu()
    del half
    torch.cuda.empty_cache()
model = PhiForCausalLM.from_pretrained(os.path.join(out, "model"), dtype=torch.float32).cuda().eval()   # fp32 math on the fp16 weights
with torch.no_grad():
    res = model(input_ids=prompt.view(1, -1).cuda(), use_cache=True)
    logits = res.logits[0].float().contiguous().cpu()
    save_file({"logits": logits, "logits_fp16": logits_fp16}, os.path.join(out, "reference.safetensors"))
    err = (logits_fp16 - logits).abs()
    print("transformers' own fp16 error: max %.4g, mean %.4g" % (float(err.max()), float(err.mean())), flush=True)
    past, logits, ids, margins = res.past_key_values, res.logits[0, -1], [], []
    for _ in range(64):
        top = torch.topk(logits, 2)
        ids.append(int(top.indices[0]))
        margins.append(float(top.values[0] - top.values[1]))
        res = model(input_ids=top.indices[:1].view(1, 1), past_key_values=past, use_cache=True)
        past, logits = res.past_key_values, res.logits[0, -1]
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump({"prompt_ids": prompt.tolist(), "greedy_ids": ids, "greedy_margins": margins, "torch": torch.__version__}, f)
print("reference written; smallest greedy margin %.4f" % min(margins), flush=True)
del model, past, res
torch.cuda.empty_cache()

if "--speed" in sys.argv:
    speed = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    big = torch.rand(2 << 30, device="cuda", dtype=torch.float16)
    times = []
    for i in range(13):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(); big.sum(dtype=torch.float32); end.record(); end.synchronize()
        if i >= 3: times.append(start.elapsed_time(end) / 1e3)
    speed["read_bandwidth_TBps"] = big.numel() * 2 / sorted(times)[len(times) // 2] / 1e12
    speed["decode_limit_tokens_per_s"] = speed["read_bandwidth_TBps"] * 1e12 / (2 * params)
    print("read bandwidth %.2f TB/s: batch-1 decode limit %.0f tokens/s" % (speed["read_bandwidth_TBps"], speed["decode_limit_tokens_per_s"]), flush=True)
    del big
    torch.cuda.empty_cache()
    for impl in ["sdpa", "eager"]:
        m = PhiForCausalLM.from_pretrained(os.path.join(out, "model"), dtype=torch.float16, attn_implementation=impl).cuda().eval()
        r = {}
        with torch.no_grad():
            x = torch.randint(0, 50000, (1, 2048), generator=gen).cuda()
            times = []
            for i in range(6):
                torch.cuda.synchronize(); t = time.time()
                m(input_ids=x)
                torch.cuda.synchronize()
                if i: times.append(time.time() - t)
            r["prefill_2048_tokens_per_s"] = 2048 / sorted(times)[len(times) // 2]
            for c in [128, 512, 2000]:
                x = torch.randint(0, 50000, (1, c), generator=gen).cuda()
                times = []
                for i in range(4):
                    torch.cuda.synchronize(); t = time.time()
                    m.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=64, min_new_tokens=64, do_sample=False, pad_token_id=0)
                    torch.cuda.synchronize()
                    if i: times.append(time.time() - t)
                r[f"generate_64_after_{c}_tokens_per_s"] = 64 / sorted(times)[len(times) // 2]
        r["memory_bytes"] = torch.cuda.max_memory_allocated()
        speed[impl] = r
        print(impl, json.dumps(r), flush=True)
        del m
        torch.cuda.empty_cache()
    with open(os.path.join(out, "transformers_speed.json"), "w") as f:
        json.dump(speed, f, indent=1)
