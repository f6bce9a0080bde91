"""Compares two training runs of the data-parallel tests: their losses
(metrics.jsonl, step by step) and the tensors of their newest checkpoints
(safetensors). Prints the largest differences found; exit status 1 when a
loss differs by more than --loss_rtol (relative) or a value of the
checkpoints by more than --value_atol + --value_rtol * |value|, or when
the runs do not hold the same steps and tensors. --exact asks for equal
bits."""

import argparse
import json
import pathlib
import struct
import sys


def losses(run: pathlib.Path):
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "loss" in row:
            out[row["step"]] = row["loss"]
    return out


def newest_checkpoint(run: pathlib.Path):
    return sorted(run.glob("checkpoint-*.safetensors"))[-1]


def tensors(path: pathlib.Path):
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = data[8 + header_len :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = body[begin:end]
        if info["dtype"] == "F32":
            out[name] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        elif info["dtype"] == "F64":
            out[name] = list(struct.unpack(f"<{len(raw) // 8}d", raw))
        else:
            out[name] = list(raw)
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--loss_rtol", type=float, default=0.0)
    p.add_argument("--value_atol", type=float, default=0.0)
    p.add_argument("--value_rtol", type=float, default=0.0)
    p.add_argument("--exact", action="store_true")
    args = p.parse_args()
    a, b = pathlib.Path(args.a), pathlib.Path(args.b)
    ok = True

    la, lb = losses(a), losses(b)
    if sorted(la) != sorted(lb):
        print(f"the runs logged different steps: {sorted(la)} and {sorted(lb)}")
        return 1
    worst_loss = max(abs(la[s] - lb[s]) / max(abs(la[s]), 1e-30) for s in la)
    exact_losses = all(la[s] == lb[s] for s in la)
    print(f"{len(la)} losses, largest relative difference {worst_loss:.3g}")
    if (args.exact and not exact_losses) or worst_loss > args.loss_rtol:
        ok = False

    ta, tb = tensors(newest_checkpoint(a)), tensors(newest_checkpoint(b))
    if sorted(ta) != sorted(tb):
        print("the checkpoints hold different tensors")
        return 1
    worst, where, exact_values = 0.0, "", True
    for name in ta:
        for x, y in zip(ta[name], tb[name]):
            exact_values = exact_values and x == y
            excess = abs(x - y) - (args.value_atol + args.value_rtol * abs(x))
            if excess > worst:
                worst, where = excess, f"{name}: {x} and {y}"
    print(f"{len(ta)} tensors, {'equal bits' if exact_values else 'largest excess ' + (where or 'none')}")
    if (args.exact and not exact_values) or worst > 0:
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
