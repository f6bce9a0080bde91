"""P1 in reformer-pytorch 1.4.4: median seconds per training step and peak
resident memory at one sequence length, as one JSON line.

    python reformer_pytorch_p1.py --length 4096 [--attention lsh|full] [--steps 3]

One step is what `reforge train` times: forward, cross-entropy over every
next-byte prediction, backward and an Adam update. P1: vocab 256, d_model
256, 6 layers, 4 heads x 64, buckets of 64, 4 hashes, causal, reversible,
feed-forward in 8 chunks, batch 1, float32, dropout off.
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from reformer_pytorch import ReformerLM

parser = argparse.ArgumentParser()
parser.add_argument("--length", type=int, required=True)
parser.add_argument("--attention", choices=["lsh", "full"], default="lsh")
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

torch.manual_seed(1)
torch.set_num_threads(args.threads)
model = ReformerLM(
    num_tokens=256, dim=256, depth=6, max_seq_len=args.length, heads=4, dim_head=64, bucket_size=64,
    n_hashes=4, causal=True, ff_chunks=8, ff_mult=4, lsh_dropout=0.0, ff_dropout=0.0, post_attn_dropout=0.0,
    layer_dropout=0.0, use_full_attn=args.attention == "full", axial_position_emb=True,
    axial_position_shape=(args.length // 64, 64))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
tokens = torch.randint(0, 256, (1, args.length + 1))
x, y = tokens[:, :-1], tokens[:, 1:]

def step():
    optimizer.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits.transpose(1, 2), y)
    loss.backward()
    optimizer.step()
    return loss.item()

step()  # warm-up
times = []
for _ in range(args.steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"system": "reformer-pytorch 1.4.4", "attention": args.attention, "length": args.length,
                  "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
                  "peak_bytes": peak, "torch": torch.__version__,
                  # Debian's torch calls the system's libblas.so.3: which one it is (install.sh)
                  "blas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")}))
