#!/usr/bin/env python3
"""Convert a mazero trajectory recording into a Flashbax Vault.

A recording (record.trajectories=true) is a folder <record.dir>/<env>/<uid>/
holding recording.json and, per field, .npy chunks <field>.<chunk>.npy of
shape (B, T_chunk, ...). This script concatenates the chunks along time and
writes them with flashbax's own Vault writer, so that OG-MARL and Mava read
the result. Field names with dots become nested keys ("infos.legals" ->
experience["infos"]["legals"]), as OG-MARL names them.

usage: tools/npy_to_vault.py RECORDING_DIR [--out VAULTS_DIR] [--name NAME] [--uid UID]
needs: pip install flashbax   (and numpy, jax, which it brings)
"""
import argparse
import json
import os
import sys

import numpy as np


def load_recording(folder):
    with open(os.path.join(folder, "recording.json")) as f:
        desc = json.load(f)
    experience = {}
    for name, field in desc["fields"].items():
        chunks = [np.load(os.path.join(folder, f"{name}.{c:05d}.npy")) for c in range(desc["chunks"])]
        array = np.concatenate(chunks, axis=1)
        want = (desc["batch"], desc["steps"], *field["shape"])
        if array.shape != want:
            sys.exit(f"npy_to_vault: {name}: shape {array.shape}, recording.json says {want}")
        node = experience
        *parents, leaf = name.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = array
    return desc, experience


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recording")
    ap.add_argument("--out", default="vaults", help="folder of vaults (flashbax rel_dir)")
    ap.add_argument("--name", help="vault name (default: the recording's env)")
    ap.add_argument("--uid", help="vault uid (default: the recording folder's name)")
    args = ap.parse_args()

    import jax.numpy as jnp
    from flashbax.buffers.trajectory_buffer import TrajectoryBufferState
    from flashbax.vault import Vault

    desc, experience = load_recording(args.recording)
    steps = desc["steps"]
    experience = {k: (jnp.asarray(v) if not isinstance(v, dict) else {kk: jnp.asarray(vv) for kk, vv in v.items()})
                  for k, v in experience.items()}
    state = TrajectoryBufferState(experience=experience, current_index=jnp.asarray(steps, dtype=jnp.int32),
                                  is_full=jnp.asarray(False))
    name = args.name or desc["env"]
    uid = args.uid or os.path.basename(os.path.normpath(args.recording))
    vault = Vault(vault_name=name, experience_structure=experience, rel_dir=args.out, vault_uid=uid,
                  metadata={"source": "mazero", "algo": desc["algo"], "seed": desc["seed"]})
    written = vault.write(state, source_interval=(0, steps))
    print(f"npy_to_vault: wrote {written} time steps x {desc['batch']} to {os.path.join(args.out, name, uid)}")


if __name__ == "__main__":
    main()
