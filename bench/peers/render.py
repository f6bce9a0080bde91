"""Table (markdown, to stdout) and plot (SVG) of bench/peers/results.jsonl.

    python3 bench/peers/render.py bench/peers/results.jsonl docs/peers.svg
"""
import json
import math
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
by = {}
for r in rows:
    by.setdefault(r["system"], {})[r["length"]] = r
reforge = by.get("Reforge", {})
lengths = sorted({r["length"] for r in rows})

print("| L | system | median s/step | min–max | tokens/s | peak RSS | CPU use | Reforge (LSH) is faster by |")
print("|---|---|---|---|---|---|---|---|")
for length in lengths:
    for system in sorted(by, key=lambda s: s != "Reforge"):
        r = by[system].get(length)
        if r is None:
            continue
        if "skipped" in r:
            print(f"| {length:,} | {system} | skipped: {r['skipped']} | | | | | |")
            continue
        ratio = ""
        if system != "Reforge" and length in reforge:
            ratio = f"{r['median_s'] / reforge[length]['median_s']:.1f}×"
            memory = r["peak_bytes"] / reforge[length]["peak_bytes"]
            ratio += f", memory {1 / memory:.2f}× theirs" if system != "Reforge (full attention)" else ""
        # Cores busy on average over the whole process (user + system over wall time).
        cpu = f"{r['cpu_use']:.2f}" if r.get("cpu_use") is not None else "not recorded"
        print(f"| {length:,} | {system} | {r['median_s']:.3f} | {r['min_s']:.3f}–{r['max_s']:.3f} | "
              f"{length / r['median_s']:,.0f} | {r['peak_bytes'] / 2**30:.2f} GiB | {cpu} | {ratio} |")

# The smallest speed-up over each peer, and where LSH overtakes full attention.
print()
for system in sorted(by):
    if system == "Reforge":
        continue
    ratios = [(by[system][n]["median_s"] / reforge[n]["median_s"], n) for n in by[system]
              if "median_s" in by[system][n] and n in reforge]
    if ratios:
        low, at = min(ratios)
        print(f"- {system}: Reforge (LSH) is {low:.1f}× faster at least (at L = {at:,}), "
              f"{max(ratios)[0]:.1f}× at most, over {len(ratios)} lengths.")

# Seconds per step against length, both axes logarithmic.
width, height, left, bottom, top, right = 640, 360, 70, 40, 20, 150
xs = [math.log2(n) for n in lengths]
times = [r["median_s"] for r in rows if "median_s" in r]
ymin, ymax = math.log10(min(times)) - 0.1, math.log10(max(times)) + 0.1
def x(n): return left + (width - left - right) * (math.log2(n) - xs[0]) / max(xs[-1] - xs[0], 1)
def y(t): return top + (height - top - bottom) * (1 - (math.log10(t) - ymin) / (ymax - ymin))
colours = {"Reforge": "#d62728", "Reforge (full attention)": "#ff9896"}
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
       '<rect width="100%" height="100%" fill="white"/>']
for n in lengths:
    svg.append(f'<text x="{x(n):.0f}" y="{height - bottom + 16}" text-anchor="middle">{n // 1024}K</text>')
for e in range(math.floor(ymin), math.ceil(ymax) + 1):
    for m in (1, 2, 5):
        t = m * 10 ** e
        if ymin <= math.log10(t) <= ymax:
            svg.append(f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>')
            svg.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g} s</text>')
svg.append(f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">sequence length (P1, 2 cores)</text>')
for i, system in enumerate(sorted(by, key=lambda s: s != "Reforge")):
    colour = colours.get(system, ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b"][i % 4])
    pts = [(x(n), y(by[system][n]["median_s"])) for n in lengths if n in by[system] and "median_s" in by[system][n]]
    svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
    svg += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in pts]
    svg.append(f'<text x="{width - right + 8}" y="{top + 16 * (i + 1)}" fill="{colour}">{system}</text>')
svg.append("</svg>")
open(sys.argv[2], "w").write("\n".join(svg) + "\n")
