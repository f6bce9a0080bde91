"""What one data-parallel training step costs at scale, from a measured
compute time and the gradient buckets the compiler chose (issue 21):
ring all-reduce on links of several speeds, with the buckets' sums
overlapping the rest of the backward as the compiled step does.

Model (docs/SCALING.md says why): the backward is the last
`backward_share` of the step's compute and finishes the buckets'
gradients at a steady rate in bytes; one bucket travels at a time, in
order, each as soon as its gradients are final and the one before it is
done; a ring all-reduce of S bytes over N ranks takes
2 (N - 1) / N * S / bandwidth + 2 (N - 1) * latency. The step costs its
compute plus what the last sum adds after the backward ends.

  python3 bench/scaling_model.py --compute 5.2 --buckets 4.27,4.01,... [--ranks 8,64,512] [--links 10,25,100]
"""

import argparse


def step_seconds(compute, buckets_mib, ranks, gbit, latency, backward_share):
    bandwidth = gbit * 1e9 / 8
    total = sum(buckets_mib)
    backward_start = compute * (1 - backward_share)
    backward = compute * backward_share
    done = 0.0  # when the link is free
    ready_bytes = 0.0
    for size in buckets_mib:
        ready_bytes += size
        ready = backward_start + backward * ready_bytes / total
        start = max(ready, done)
        done = start + 2 * (ranks - 1) / ranks * size * 2**20 / bandwidth + 2 * (ranks - 1) * latency
    exposed = max(0.0, done - compute)
    communication = sum(2 * (ranks - 1) / ranks * s * 2**20 / bandwidth + 2 * (ranks - 1) * latency for s in buckets_mib)
    return compute + exposed, communication, exposed


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="step")
    p.add_argument("--compute", type=float, required=True, help="seconds of computation per step and rank")
    p.add_argument("--buckets", required=True, help="bucket sizes in MiB, in the order they start")
    p.add_argument("--ranks", default="8,64,512")
    p.add_argument("--links", default="10,25,100", help="link speeds in Gb/s")
    p.add_argument("--latency", type=float, default=20e-6, help="seconds per ring hop")
    p.add_argument("--backward_share", type=float, default=0.7)
    a = p.parse_args()
    buckets = [float(x) for x in a.buckets.split(",")]
    print(f"{a.name}: {a.compute:.3g} s of compute per step, {len(buckets)} buckets, {sum(buckets):.1f} MiB")
    print(f"{'ranks':>6} {'link':>9} {'all-reduce':>11} {'exposed':>9} {'step':>9} {'efficiency':>11}")
    for n in [int(x) for x in a.ranks.split(",")]:
        for gbit in [float(x) for x in a.links.split(",")]:
            step, comm, exposed = step_seconds(a.compute, buckets, n, gbit, a.latency, a.backward_share)
            print(f"{n:>6} {gbit:>6.0f}Gb/s {comm:>10.3f}s {exposed:>8.3f}s {step:>8.3f}s {100 * a.compute / step:>10.1f}%")


if __name__ == "__main__":
    main()
