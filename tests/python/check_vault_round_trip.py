#!/usr/bin/env python3
"""CI-optional check: a recording written by mazero's C recorder (kept by
the test binary's `trajectory` group under MZ_TEST_KEEP_DIR), converted with
tools/npy_to_vault.py, reads back from the Flashbax Vault equal to the .npy
data.

usage: check_vault_round_trip.py RECORDING_DIR WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
tools = os.path.join(here, "..", "..", "tools")
sys.path.insert(0, tools)
from npy_to_vault import load_recording  # noqa: E402

recording, work = sys.argv[1], sys.argv[2]
subprocess.run([sys.executable, os.path.join(tools, "npy_to_vault.py"), recording, "--out", work, "--name", "check",
                "--uid", "u1"], check=True)
from flashbax.vault import Vault  # noqa: E402

desc, experience = load_recording(recording)
read = Vault(vault_name="check", rel_dir=work, vault_uid="u1").read()


def compare(path, want, got):
    if isinstance(want, dict):
        for k in want:
            compare(path + [k], want[k], got[k])
        return
    got = np.asarray(got)
    if got.shape != want.shape or not np.array_equal(got, want):
        sys.exit(f"vault round trip: {'.'.join(path)}: got shape {got.shape}, want {want.shape} (or values differ)")


compare([], experience, read.experience)
print(f"vault round trip: ok ({desc['steps']} steps x {desc['batch']} envs, fields {sorted(desc['fields'])})")
