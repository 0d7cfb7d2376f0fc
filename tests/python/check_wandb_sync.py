#!/usr/bin/env python3
"""CI-optional check: the official `wandb` package reads mazero's offline
.wandb file. `wandb sync` (its own reader: header, LevelDB framing, CRC,
protobuf Records) uploads the run to wandb_recording_server.py on
127.0.0.1; the check then rebuilds what the server received: the run id,
every history row once and in order (with _step/_runtime/_timestamp), the
summary, and complete with the exit code.

usage: check_wandb_sync.py OFFLINE_RUN_DIR EXPECTED_ROWS   (needs: pip install wandb)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
server_script = os.path.join(here, "..", "fixtures", "wandb_recording_server.py")


def main():
    run_dir, expected_rows = sys.argv[1], int(sys.argv[2])
    run_id = re.sub(r".*-", "", os.path.basename(os.path.normpath(run_dir)))
    work = tempfile.mkdtemp(prefix="wandb-sync-check-")
    copy = os.path.join(work, os.path.basename(os.path.normpath(run_dir)))
    shutil.copytree(run_dir, copy)  # sync marks the folder as synced: leave the original alone
    log, port_file = os.path.join(work, "requests.jsonl"), os.path.join(work, "port")
    server = subprocess.Popen([sys.executable, server_script, log, port_file, "--max-requests", "200",
                               "--max-seconds", "90"])
    try:
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read():
                break
            time.sleep(0.05)
        env = dict(os.environ, WANDB_BASE_URL="http://127.0.0.1:" + open(port_file).read(),
                   WANDB_API_KEY="local-" + "1" * 40, WANDB_SILENT="true", WANDB_DIR=work)
        sync = subprocess.run([sys.executable, "-m", "wandb", "sync", copy], env=env, capture_output=True,
                              text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
    if sync.returncode != 0:
        sys.exit(f"wandb sync failed ({sync.returncode}):\n{sync.stdout}\n{sync.stderr}")
    requests = [json.loads(line) for line in open(log)]
    upserts = [r for r in requests if r["path"].endswith("/graphql") and isinstance(r["body"], dict)
               and "UpsertBucket" in r["body"].get("query", "")]
    if not upserts or upserts[0]["body"]["variables"]["name"] != run_id:
        sys.exit(f"no UpsertBucket for run {run_id}: {[r['path'] for r in requests]}")
    history, summary, complete, exitcode = {}, None, False, None
    for r in requests:
        if not r["path"].endswith("/file_stream") or not isinstance(r["body"], dict):
            continue
        files = r["body"].get("files", {})
        h = files.get("wandb-history.jsonl")
        if h:
            for i, line in enumerate(h["content"]):
                if h["offset"] + i in history:
                    sys.exit(f"history line {h['offset'] + i} sent twice")
                history[h["offset"] + i] = json.loads(line)
        s = files.get("wandb-summary.json")
        if s:
            summary = json.loads(s["content"][-1])
        complete = r["body"].get("complete", False)
        exitcode = r["body"].get("exitcode", exitcode)
    if sorted(history) != list(range(expected_rows)):
        sys.exit(f"history lines {sorted(history)[:5]}... ({len(history)}), want 0..{expected_rows - 1}")
    for i in range(expected_rows):
        row = history[i]
        if row["_step"] != i or "_runtime" not in row or "_timestamp" not in row:
            sys.exit(f"history line {i}: {row}")
    if not summary or summary.get("_step") != expected_rows - 1:
        sys.exit(f"summary: {summary}")
    if not complete or exitcode != 0:
        sys.exit(f"final request: complete {complete}, exitcode {exitcode}")
    print(f"wandb sync of mazero's .wandb file: ok (run {run_id}, {expected_rows} rows, summary, exit code 0)")


if __name__ == "__main__":
    main()
