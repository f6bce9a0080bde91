"""docs/PAPER.md from a bench/paper/table2.sh run directory: the measured
Table 2 beside the paper's, the settings, each row's training curve
(held-out bits per copied symbol every 500 steps) and the time taken."""

import argparse
import json
import pathlib

ROWS = [("full", "full"), ("lsh4", "LSH-4"), ("lsh2", "LSH-2"), ("lsh1", "LSH-1")]
COLUMNS = [("full", "full"), ("lsh8", "LSH-8"), ("lsh4", "LSH-4"), ("lsh2", "LSH-2"), ("lsh1", "LSH-1")]
PAPER = {
    "full": ["100%", "94.8%", "92.5%", "76.9%", "52.5%"],
    "lsh4": ["0.8%", "100%", "99.9%", "99.4%", "91.9%"],
    "lsh2": ["0.8%", "100%", "99.9%", "98.1%", "86.8%"],
    "lsh1": ["0.8%", "99.9%", "99.6%", "94.8%", "77.9%"],
}


def accuracy(out, row, column):
    path = out / row / f"eval-{column}.json"
    return json.loads(path.read_text())["accuracy"] if path.exists() else None


def observations(out):
    """Where the measured pattern matches the paper's and where it does not,
    read off the numbers (nothing here is written by hand)."""
    notes = []
    cells = {(r, c): accuracy(out, r, c) for r, _ in ROWS for c, _ in COLUMNS}
    if any(v is None for v in cells.values()):
        return ["- The table is not complete yet: run the script again to finish it."]
    best = max(cells.values())
    if best < 0.95:
        notes.append(
            f"- Not converged: the best cell is {100 * best:.1f}%, where the paper's models copy (near) perfectly. "
            "The size and the steps here are far below the paper's; compare the pattern, not the levels."
        )
    hashes = ["lsh1", "lsh2", "lsh4", "lsh8"]
    for row, name in ROWS:
        values = [cells[(row, c)] for c in hashes]
        rising = all(b >= a for a, b in zip(values, values[1:]))  # more hashes never hurt
        notes.append(
            f"- Trained with {name}: from 1 to 8 hashes at evaluation the accuracy "
            + ("never falls" if rising else "falls somewhere")
            + f" ({', '.join(f'{100 * v:.1f}%' for v in values)}); the paper's rises at every step."
        )
    survived = False
    for row, name in ROWS[1:]:
        full = cells[(row, "full")]
        verdict = "fails with it, as the paper's do" if full < 0.05 else "does not fail with it, unlike the paper's (0.8%)"
        survived = survived or full >= 0.05
        notes.append(f"- Trained with {name} and evaluated with full attention: {100 * full:.1f}%; the model {verdict}.")
    if survived:
        notes.append(
            "- Why full attention need not fail here: it is the LSH layer itself with one hash and one chunk "
            "(shared queries and keys, keys normalised, a position attending to itself only when nothing else "
            "is visible), so queries that find their partner within a bucket find it among all keys as well. "
            "The paper does not describe its full-attention evaluation of LSH-trained models; its 0.8% suggests "
            "an attention that differs from its LSH attention in more than the keys it sees."
        )
    return notes


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--length", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--chunk", type=int, required=True)
    p.add_argument("--learning_rate", required=True)
    a = p.parse_args()
    out = pathlib.Path(a.out)
    seconds = sum(int(x) for x in (out / "seconds").read_text().split()) if (out / "seconds").exists() else 0

    lines = [
        "# The Reformer paper's Table 2, measured",
        "",
        "Regenerate with `bench/paper/table2.sh"
        + ("" if a.length == 256 else f" --length={a.length}")
        + ("" if a.steps == 10000 else f" --steps={a.steps}")
        + ("" if float(a.learning_rate) == 5e-4 else f" --learning_rate={a.learning_rate}")
        + "` (it resumes an interrupted run).",
        "",
        "Accuracy on the copied half of the duplication task (0w0w): rows are the attention a model was trained",
        "with, columns the attention it is evaluated with (`reforge eval RUN_DIR --n_hashes=N --chunk_len=C`).",
        "",
        "| train \\ eval | " + " | ".join(name for _, name in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for row, row_name in ROWS:
        cells = []
        for (column, _), paper in zip(COLUMNS, PAPER[row]):
            value = accuracy(out, row, column)
            measured = "–" if value is None else f"{100 * value:.1f}%"
            cells.append(f"{measured} ({paper})")
        lines.append(f"| {row_name} | " + " | ".join(cells) + " |")
    lines += ["", "Each cell: measured here (the paper's).", "", "## What it shows", ""]
    lines += observations(out)
    lines += [
        "",
        "## Settings",
        "",
        f"- Here: sequences of length {a.length} (|w| = {a.length // 2 - 1}), symbols 1..127, 1 layer,",
        f"  d_model = d_ff = 256, 4 heads of 64, LSH chunks of {a.chunk}, a learned embedding per position,",
        f"  batch 8, Adam at a learning rate of {a.learning_rate}, {a.steps} steps; evaluation over 32 held-out",
        "  batches.",
        "- The paper: length 1024 (|w| = 511), the same model, 150K steps.",
        "- Full attention is LSH with one hash and a single chunk: every position attends to every earlier one,",
        "  with the (normalised) queries as keys — the shared-QK full attention the paper's rows use, and the",
        "  only full attention an LSH-trained model's weights can be evaluated with.",
        f"- Time: {seconds / 3600:.2f} hours on this machine for training and evaluation.",
        "",
        "## Training curves (held-out bits per copied symbol)",
        "",
    ]
    curves = {}
    for row, _ in ROWS:
        path = out / row / "metrics.jsonl"
        points = {}
        if path.exists():
            for line in path.read_text().splitlines():
                m = json.loads(line)
                if "validation_bits" in m:
                    points[m["step"]] = m["validation_bits"]
        curves[row] = points
    steps = sorted({s for points in curves.values() for s in points})
    lines.append("| step | " + " | ".join(name for _, name in ROWS) + " |")
    lines.append("|---:|" + "---:|" * len(ROWS))
    for s in steps:
        lines.append(
            f"| {s} | " + " | ".join(f"{curves[row][s]:.3f}" if s in curves[row] else "" for row, _ in ROWS) + " |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
