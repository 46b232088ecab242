"""transformers' logits for the embedded model, which `flashcl check` (family `model`) and
its tests compare flashcl's against.

The sequence is expected.json's prompt followed by its 200 greedy tokens (225 ids); the dump keeps
the rows of POSITIONS only (the whole vocabulary at each), so that it stays small enough for the
jar: 'logits' is fp32 math on the fp16 weights, 'logits_fp16' transformers' own fp16 pass (exact
in F16), both from the checkpoint on disk. reference.json holds the ids and the positions.
Deterministic: no sampling, TF32 off.

    python3 testdata/embedded/make_reference.py      (GPU machine: torch 2.11, transformers 5.17)
"""
import hashlib
import json
import os

import torch
from safetensors.torch import save_file
from transformers import PhiForCausalLM

POSITIONS = [0, 7, 24, 56, 100, 150, 200, 223]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    with open(os.path.join(here, "expected.json")) as f:
        expected = json.load(f)
    ids = expected["prompt_ids"] + expected["new_ids"]
    x = torch.tensor([ids], device=dev)
    with torch.no_grad():
        ref = PhiForCausalLM.from_pretrained(here, dtype=torch.float32).to(dev).eval()
        logits = ref(input_ids=x).logits[0].float().cpu()
        del ref
        half = PhiForCausalLM.from_pretrained(here, dtype=torch.float16).to(dev).eval()
        logits_fp16 = half(input_ids=x).logits[0].cpu()
        del half
    plen = len(expected["prompt_ids"])
    greedy = logits[plen - 1:-1].argmax(-1).tolist()   # the full pass must agree with expected.json's step-by-step greedy
    assert greedy == expected["new_ids"], "greedy ids of one pass differ from expected.json"
    rows = torch.tensor(POSITIONS)
    save_file({"logits": logits[rows].contiguous(), "logits_fp16": logits_fp16[rows].contiguous()},
              os.path.join(here, "reference.safetensors"))
    with open(os.path.join(here, "reference.json"), "w") as f:
        json.dump({"ids": ids, "positions": POSITIONS, "torch": torch.__version__, "device": dev}, f)
    err = (logits_fp16[rows].float() - logits[rows]).abs()
    print(f"rows {POSITIONS}: max |ref| {logits[rows].abs().max():.3g}, transformers fp16 error max {err.max():.4g} mean {err.mean():.4g}")
    for name in ["expected.json", "reference.json", "reference.safetensors"]:
        with open(os.path.join(here, name), "rb") as f:
            print(hashlib.sha256(f.read()).hexdigest() + "  " + name)


if __name__ == "__main__":
    main()
