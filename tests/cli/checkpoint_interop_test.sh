#!/bin/bash
# Checkpoints are safetensors files: Python's `safetensors` package reads
# them with the model's parameter names and shapes, and a checkpoint that
# Python writes back (in its own tensor order) loads in Reforge with the
# same values: generation from it gives the same text.
set -u
reforge="$1"
work="${TEST_TMPDIR:-$(mktemp -d)}"
python="${REFORGE_INTEROP_PYTHON:-}"
if [ -z "$python" ] || ! "$python" -c "import safetensors, numpy" 2> /dev/null; then
  echo "SKIPPED: Python's safetensors is not installed (scripts/install_test_deps.sh installs it)"
  exit 0
fi
"$reforge" train byte-lm --data=builtin --steps=5 --threads=1 --run_dir="$work/run" > /dev/null 2>&1 || exit 1
checkpoint="$work/run/checkpoint-00000005.safetensors"
mkdir -p "$work/copy"
"$python" - "$checkpoint" "$work/copy/checkpoint-00000005.safetensors" << 'PY' || exit 1
import json, sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

source, copy = sys.argv[1], sys.argv[2]
with safe_open(source, framework="np") as f:
    metadata = f.metadata()
tensors = load_file(source)
assert metadata["format"] == "reforge.checkpoint/1", metadata
assert metadata["model"] == "byte-lm" and metadata["step"] == "5", metadata
config = json.loads(metadata["config"])
vocab, d_model = int(config["vocab_size"]), int(config["d_model"])
shapes = {name: t.shape for name, t in tensors.items()}
# The token embedding and the output head, under the model's names.
embeddings = [n for n, s in shapes.items() if s == (vocab, d_model) and "embed" in n]
assert embeddings, shapes
assert tensors[embeddings[0]].dtype == np.float32, tensors[embeddings[0]].dtype
print(f"python read {len(tensors)} tensors; {embeddings[0]} {shapes[embeddings[0]]}")
assert all(np.isfinite(t).all() for t in tensors.values() if t.dtype.kind == "f")
save_file(tensors, copy, metadata=metadata)
PY
a=$("$reforge" generate "$work/run" --prompt="the " --length=30 --seed=2 --top_k=1 2> /dev/null)
b=$("$reforge" generate "$work/copy" --prompt="the " --length=30 --seed=2 --top_k=1 2> "$work/copy.err")
echo "reforge's checkpoint:   $a"
echo "python's rewrite of it: $b"
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL: $(cat "$work/copy.err")"; exit 1; }
echo "ok: Python reads the checkpoint, and Reforge reads Python's copy with the same values"
