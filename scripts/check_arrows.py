#!/usr/bin/env python3
"""Checks that the workspace's crate arrows point one way (see ARCHITECTURE.md, "Invariants").

Each crate has a layer; a crate may depend only on crates of lower layers.
"""
import json
import subprocess
import sys

LAYERS = {
    "tidewatch-model": 0,
    "tidewatch-text": 1,
    "tidewatch-ingest": 2,
    "tidewatch-store": 2,
    "tidewatch-detect": 2,
    "tidewatch-workflow": 2,
    "tidewatch-engine": 3,
    "tidewatch-web": 4,
    "tidewatch-cli": 5,
}

meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--no-deps"]))
bad = []
for pkg in meta["packages"]:
    name = pkg["name"]
    if name not in LAYERS:
        bad.append(f"{name}: not in the layer table of scripts/check_arrows.py (and ARCHITECTURE.md)")
        continue
    for dep in pkg["dependencies"]:
        d = dep["name"]
        if d.startswith("tidewatch-") and dep.get("kind") != "dev":
            if d not in LAYERS:
                bad.append(f"{name} -> {d}: unknown crate")
            elif LAYERS[d] >= LAYERS[name]:
                bad.append(f"{name} (layer {LAYERS[name]}) -> {d} (layer {LAYERS[d]}): arrows must point down")
if bad:
    print("crate arrows:\n  " + "\n  ".join(bad))
    sys.exit(1)
print(f"crate arrows: {len(meta['packages'])} crates, all dependencies point down")
