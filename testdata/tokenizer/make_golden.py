"""Golden tokenizer data from Hugging Face's `tokenizers` library (the independent implementation).

Builds Phi-2's tokenizer from vocab.json + merges.txt + the added tokens exactly as
../shared/reference/phi2.md describes (transformers 5.17's CodeGenTokenizerFast(vocab_file=...)
silently builds an empty vocabulary, so the tokenizers library is used directly), saves it in the
hub's tokenizer.json form, and encodes a seeded corpus of strings. Writes, beside this script:
tokenizer.json, tokenizer_config.json, special_tokens_map.json and golden.json
({"text", "ids", "decoded", "decoded_clean"} per string: see decode() below).

    python3 testdata/tokenizer/make_golden.py     (on the GPU machine: tokenizers 0.23.2)
"""
import json
import os
import random
import sys

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from assemble import whitespace_tokens  # noqa: E402  (the added tokens, in id order)

tok = Tokenizer(models.BPE.from_file(os.path.join(here, "vocab.json"), os.path.join(here, "merges.txt")))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
tok.add_tokens([AddedToken(text, normalized=True) for text, _ in whitespace_tokens()])
for text, want in whitespace_tokens():
    assert tok.token_to_id(text) == want, (repr(text), tok.token_to_id(text), want)
assert tok.get_vocab_size() == 50295
tok.save(os.path.join(here, "tokenizer.json"))

with open(os.path.join(here, "tokenizer_config.json"), "w") as f:
    json.dump({"add_prefix_space": False, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>", "clean_up_tokenization_spaces": True,
               "model_max_length": 2048, "tokenizer_class": "CodeGenTokenizer"}, f, indent=2)
with open(os.path.join(here, "special_tokens_map.json"), "w") as f:
    json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}, f, indent=2)

# transformers' decode. transformers 5.x ignores clean_up_tokenization_spaces for byte-level BPE
# tokenizers (with a warning) unless forced; 4.x applied it, as Phi-2's tokenizer_config asks.
# "decoded" is transformers' default decode, "decoded_clean" the decode with the clean-up forced.
CLEANUP = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]
try:
    from transformers import PreTrainedTokenizerFast
    plain = PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False)
    clean = PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=True)
    clean.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output = True
    DECODER = "transformers " + __import__("transformers").__version__
    def decode(ids, cleanup):
        return (clean if cleanup else plain).decode(ids)
    assert decode(tok.encode("word .").ids, True) == "word.", "transformers did not apply the clean-up"
except ImportError:   # no transformers: the same clean-up, written out
    DECODER = "tokenizers decode + clean-up written out in make_golden.py"
    def decode(ids, cleanup):
        s = tok.decode(ids, skip_special_tokens=False)
        if cleanup:
            for a, b in CLEANUP:
                s = s.replace(a, b)
        return s

PY = '''def factorial(n):
    """
    Calculate the factorial of a number n
    """
    if n < 2:
        return 1
    return n * factorial(n - 1)
'''
PY_TABS = "class Stack:\n\tdef __init__(self):\n\t\tself.items = []\n\n\tdef push(self, x):\n\t\tself.items.append(x)\n\t\treturn self\n"
JAVA = '''public final class Main {
    private static final int LIMIT = 1_000;

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < LIMIT; i++) {
            if (i % 3 == 0 && i != 0) {
                System.out.println("fizz " + i);   // comment
            }
        }
    }
}
'''
JAVA_TABS = "public class A {\n\tint x;\n\t\tint y; // odd\n\t\t\t\t\t\t\t\t\t\t\t\tdeep();\n}\n"
FRAGMENTS = [
    "Hello World", "Hello world!", "hello, world. How are you?", "I'm here; you're there; we've been; they'd go; it'll be; she's; don't; can't; won't",
    "'s 't 're 've 'm 'll 'd", "I'M SHOUTING, DON'T", "rock 'n' roll", "O'Reilly's book", "\"quoted\" and 'single'",
    "12345", "3.14159", "1,000,000", "0x1F 0b1010 1e-5 -42 +7", "version 2.0.5-rc1", "2026-11-25T00:57:00Z",
    "!!!???...", "--- ==> <== !== ;;; ::", "(((nested)))", "[1, 2, 3]", "{'a': 1, \"b\": [2]}", "#!/usr/bin/env python3",
    "café naïve Ångström São Paulo façade Æsir œuvre", "Straße Größe Übermut", "ñandú pingüino", "Čeština Łódź Ελληνικά Русский текст",
    "日本語のテキスト", "中文字符和标点。", "한국어 문장입니다", "混合 mixed テキスト text",
    "😀", "👍🏽", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "emoji 🎉🎉🎉 party", "a😀b", "\u2764\ufe0f",
    "e\u0301 a\u0308 n\u0303", "Zalgo: Z\u0351\u0352\u0353a\u0354l\u0355go", "\u0915\u094d\u0937", "مرحبا بالعالم", "שלום עולם",
    "<|endoftext|>", "text<|endoftext|>more", " <|endoftext|> ", "<|endoftext|><|endoftext|>", "<|endoftext", "|endoftext|>",
    "", " ", "  ", "\t", "\n", "\r\n", "\n\n\n", "\r\n\r\n", " \n ", "\t\n\t", "a\r\nb\r\nc", "line one\nline two\r\nline three\n",
    "\u00a0nbsp\u00a0", "zero\u200bwidth", "\ufeffBOM", "tab\tseparated\tvalues", "trailing space ", " leading space",
    "a\ufffdb", "\ufffd", "null\x00byte", "bell\x07 escape\x1b[0m",
    "x = [i ** 2 for i in range(10) if i % 2]", "    return self._cache.get(key, None)", "if __name__ == \"__main__\":\n    main()\n",
    "def f(*args, **kwargs) -> None: ...", "lambda x: x+1", "@decorator\ndef g(): pass", "    # TODO: fix this\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }", "Map<String, List<Integer>> m = new HashMap<>();", "/** Javadoc {@link Foo#bar()} */",
    "https://huggingface.co/microsoft/phi-2", "user@example.com", "C:\\Users\\name\\file.txt", "path/to/file.py:42",
    PY, PY_TABS, JAVA, JAVA_TABS,
    "Can you help me write a formal email to a potential business partner proposing a joint venture?",
    "def factorial(n):\n    \"\"\"\n    Calculate the factorial of a number n\n    \"\"\"\n",
    "Instruct: Write a haiku.\nOutput:", "Alice: Hi!\nBob: Hello .\nAlice: It 's fine , isn't it ?",
    "word .", "word ,", "word !", "word ?", "it ' s", "do n't", "I 'm", "he 's", "we 've", "they 're", "a . b , c ! d ?",
]
rng = random.Random(20261125)
corpus = list(FRAGMENTS)
for n in range(1, 41):          # runs of 1..40 spaces, alone and between words
    corpus += [" " * n, "x" + " " * n + "y", " " * n + "word", "\n" + " " * n + "return x\n"]
for n in range(1, 13):          # runs of tabs, and tabs mixed with spaces
    corpus += ["\t" * n, "\t" * n + "code", "x" + "\t" * n + "y"]
for _ in range(40):
    ws = "".join(rng.choice([" ", "\t", "  ", "    ", "\n", "\r\n"]) for _ in range(rng.randint(1, 12)))
    corpus.append(ws + "token" + ws)
for _ in range(120):            # seeded mixtures of everything above
    parts = [rng.choice(FRAGMENTS) for _ in range(rng.randint(2, 6))]
    seps = [rng.choice(["", " ", "  ", "\t", "\n", "\n    ", "\n\t\t", "   ", "\r\n"]) for _ in parts]
    corpus.append("".join(p + s for p, s in zip(parts, seps)))
long_parts = FRAGMENTS[:]
rng.shuffle(long_parts)
corpus.append("\n".join(long_parts) * 3)                       # long mixed text
corpus.append((PY + "\n" + PY_TABS + "\n") * 40)                # long Python
corpus.append((JAVA + "\n") * 30)                               # long Java
corpus.append(" ".join(rng.choice(["the", "of", "and", "a", "to", "in", "is", "you", "that", "it"]) for _ in range(3000)))

golden = []
for text in corpus:
    ids = tok.encode(text, add_special_tokens=False).ids
    golden.append({"text": text, "ids": ids, "decoded": decode(ids, False), "decoded_clean": decode(ids, True)})
with open(os.path.join(here, "golden.json"), "w", encoding="utf-8") as f:
    f.write('{"encoder": %s, "decoder": %s,\n"cases": [\n' % (json.dumps("tokenizers " + __import__("tokenizers").__version__), json.dumps(DECODER)))
    f.write(",\n".join(json.dumps(g, ensure_ascii=False) for g in golden))
    f.write("\n]}\n")
seed = "def factorial(n):\n    \"\"\"\n    Calculate the factorial of a number n\n    \"\"\"\n"
print("seed prompt:", tok.encode(seed, add_special_tokens=False).ids)
print("Hello World:", tok.encode("Hello World", add_special_tokens=False).ids)
print(len(golden), "strings,", sum(len(g["ids"]) for g in golden), "ids")
