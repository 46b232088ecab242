"""Writes bench-results/README.md: every file there, with the sections of README.md and docs/ that
cite it (by name or by a glob such as bench-results/2026-12-02-h200-*). Files no document cites are
listed at the end; delete them or cite them.

    python3 scripts/bench_results_index.py
"""
import fnmatch
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md", "docs/benchmarks.md", "docs/design.md"]


def citations():
    """(pattern, document, section heading) for every bench-results reference."""
    out = []
    for doc in DOCS:
        heading = doc
        with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    heading = line.strip("# \n")
                for m in re.finditer(r"bench-results/([A-Za-z0-9._*{},-]+)", line):
                    ref = m.group(1).rstrip(".,)")
                    if "{" in ref:
                        a, b = ref.index("{"), ref.index("}")
                        pats = [ref[:a] + x + ref[b + 1:] for x in ref[a + 1:b].split(",")]
                    else:
                        pats = [ref]
                    out += [(p, doc, heading) for p in pats if p and p != "README.md"]
    return out


def anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def main():
    cites = citations()
    files = sorted(f for f in os.listdir(os.path.join(ROOT, "bench-results")) if f != "README.md")
    rows, orphans = [], []
    for f in files:
        where = sorted({f"[{h}](../{d}#{anchor(h)})" for p, d, h in cites if fnmatch.fnmatch(f, p)})
        (rows if where else orphans).append((f, where))
    with open(os.path.join(ROOT, "bench-results", "README.md"), "w", encoding="utf-8") as out:
        out.write("# bench-results\n\nThe raw output behind the figures in [docs/benchmarks.md](../docs/benchmarks.md) "
                  "and the README, named by date, device and what was run. Each file is listed with the sections that "
                  "cite it. Made by `python3 scripts/bench_results_index.py`.\n\n")
        out.write("| file | cited in |\n|---|---|\n")
        for f, where in rows:
            out.write(f"| [{f}]({f}) | {'; '.join(where)} |\n")
        if orphans:
            out.write("\n## Cited nowhere\n\n" + "".join(f"- {f}\n" for f, _ in orphans))
    print(f"bench-results: {len(rows)} files cited, {len(orphans)} cited nowhere")


if __name__ == "__main__":
    main()
