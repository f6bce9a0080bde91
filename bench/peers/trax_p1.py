"""P1 in trax 1.4.1 (the Reformer authors' code, on JAX/XLA): median
seconds per training step and peak resident memory at one sequence length,
as one JSON line.

    python trax_p1.py --length 4096 [--attention lsh|full] [--steps 3]

One step is what `reforge train` times: forward, cross-entropy over every
next-byte prediction, backward and an Adam update. P1: vocab 256, d_model
256, d_ff 1024, 6 layers, 4 heads x 64, chunks of 64, 4 hashes, causal,
reversible, feed-forward in 8 chunks, batch 1, float32, dropout off.
trax's own details stay (its bucket count, FastGelu, its output layer).
--trainer memory_efficient (the default) is trax's reversible backward
that rebuilds activations layer by layer, as Reforge does; --trainer
default is its ordinary Loop, one jitted step that keeps them. The first
step, which includes XLA's compilation, is a warm-up and not timed.
"""
import argparse
import functools
import json
import os
import resource
import statistics
import time

parser = argparse.ArgumentParser()
parser.add_argument("--length", type=int, required=True)
parser.add_argument("--attention", choices=["lsh", "full"], default="lsh")
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--trainer", choices=["memory_efficient", "default"], default="memory_efficient")
args = parser.parse_args()
os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={args.threads}")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")
import jax  # noqa: E402
import numpy as np  # noqa: E402
import trax  # noqa: E402
from trax import layers as tl  # noqa: E402
from trax.supervised import training  # noqa: E402

length = args.length
if args.attention == "lsh":
    attention = functools.partial(tl.LSHSelfAttention, chunk_len=64, n_hashes=4, n_chunks_before=1,
                                  n_chunks_after=0, attention_dropout=0.0, output_dropout=0.0)
else:
    attention = tl.SelfAttention
model = trax.models.ReformerLM(
    vocab_size=256, d_model=256, d_ff=1024, d_attention_key=64, d_attention_value=64, n_layers=6, n_heads=4,
    dropout=0.0, max_len=length, attention_type=attention, pos_type=None, pos_axial_shape=(length // 64, 64),
    pos_d_axial_embs=(128, 128), ff_chunk_size=length // 8, mode="train")

rng = np.random.default_rng(1)


def batches():
    while True:
        tokens = rng.integers(0, 256, size=(1, length + 1), dtype=np.int32)
        yield tokens[:, :-1], tokens[:, 1:], np.ones((1, length), np.float32)


memory_efficient = args.trainer == "memory_efficient"
# The memory-efficient trainer makes one optimizer per block: it takes a
# function that makes one.
optimizer = functools.partial(trax.optimizers.Adam, 1e-3) if memory_efficient else trax.optimizers.Adam(1e-3)
task = training.TrainTask(batches(), tl.WeightedCategoryCrossEntropy(), optimizer, n_steps_per_checkpoint=10**9)
loop = training.Loop(model, [task], use_memory_efficient_trainer=memory_efficient)
loop.run(1)  # warm-up: XLA compiles the step
times = []
for _ in range(args.steps):
    start = time.perf_counter()
    loop.run(1)
    jax.block_until_ready(loop.model.weights)
    times.append(time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
name = "reversible trainer" if memory_efficient else "default trainer"
print(json.dumps({"system": f"trax 1.4.1 on JAX {jax.__version__} ({name})", "attention": args.attention, "length": args.length,
                  "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
                  "peak_bytes": peak, "jax": jax.__version__}))
