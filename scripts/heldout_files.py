"""Prints the held-out Python files of testdata/embedded/train.py's rule, from this machine's
standard library: the .py files (site-packages and tests excluded) whose relative path hashes
(crc32) to 0 mod 50. The embedded model never trained on these names; on a Python other than the
3.12.3 it trained on, their text differs a little from the files whose loss training.json holds.

    python3 scripts/heldout_files.py > /tmp/heldout.txt
"""
import glob
import os
import sysconfig
import zlib

stdlib = sysconfig.get_paths()["stdlib"]
files = sorted(f for f in glob.glob(os.path.join(stdlib, "**", "*.py"), recursive=True)
               if "site-packages" not in f and "/test" not in f[len(stdlib):] and "/tests/" not in f)
for f in files:
    if zlib.crc32(os.path.relpath(f, stdlib).encode()) % 50 == 0:
        print(f)
