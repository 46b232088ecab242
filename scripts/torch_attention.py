#!/usr/bin/env python3
"""PyTorch's scaled_dot_product_attention (flash backend), timed on the same shapes as
`flashcl bench attention`, so the two are measured in one device call.

Usage: python3 scripts/torch_attention.py --json OUT.json [--lengths 512,...] [--decode-lengths 2048,16384]
Prefill: batch 1, 32 heads, head_dim 80, causal, fp16; TFLOP/s counts 4 N^2 D per head, halved
(causal). Decode: one query against L keys, effective GB/s = (K + V + q + o bytes) / time.
"""
import argparse, json, statistics, datetime
import torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend


def time_ms(fn, warmup=3, repeat=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--lengths", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--decode-lengths", default="2048,16384")
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--head-dim", type=int, default=80)
    a = ap.parse_args()
    torch.manual_seed(0)
    h, d = a.heads, a.head_dim
    rows = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
            "date": datetime.date.today().isoformat(), "prefill": [], "decode": []}
    for n in [int(x) for x in a.lengths.split(",")]:
        q, k, v = (torch.rand(1, h, n, d, device="cuda", dtype=torch.float16) * 2 - 1 for _ in range(3))
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        flops = 4.0 * n * n * d * h * 0.5
        rows["prefill"].append({"n": n, "ms": ms, "tflops": flops / ms / 1e9})
        print(f"torch sdpa flash N={n}: {ms:.3f} ms, {flops / ms / 1e9:.1f} TFLOP/s", flush=True)
        del q, k, v
    for L in [int(x) for x in a.decode_lengths.split(",")]:
        q = torch.rand(1, h, 1, d, device="cuda", dtype=torch.float16) * 2 - 1
        k, v = (torch.rand(1, h, L, d, device="cuda", dtype=torch.float16) * 2 - 1 for _ in range(2))
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v), repeat=50)
        nbytes = 2 * (2 * h * L * d + 2 * h * d)
        rows["decode"].append({"kv_len": L, "ms": ms, "gb_per_s": nbytes / ms / 1e6})
        print(f"torch sdpa flash decode L={L}: {ms:.4f} ms, {nbytes / ms / 1e6:.0f} GB/s", flush=True)
    with open(a.json, "w") as f:
        json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
