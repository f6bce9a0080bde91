"""Sums GoogleTest results over the test targets of a Bazel run and prints
the closing line "N passed, M failed". Reads target labels (//pkg:name) on
standard input and each target's bazel-testlogs/pkg/name/test.xml (or its
shards'). A target
without results (it failed to build or crashed) counts as one failure.
An optional second argument names a file of tests run outside Bazel, one
line each: "PASS name" or "FAIL name".
Exit status 1 on any failure."""

import pathlib
import sys
import xml.etree.ElementTree as ET


def results_of(testlogs: pathlib.Path, label: str):
    """A target's test cases: from its test.xml, or from every shard's
    (shard_K_of_N/test.xml) when it is sharded; [] if any is missing."""
    package, _, name = label.lstrip("/").partition(":")
    directory = testlogs / package / name
    shards = sorted(directory.glob("shard_*_of_*/test.xml"))
    cases = []
    for xml in shards or [directory / "test.xml"]:
        try:
            cases += list(ET.parse(xml).getroot().iter("testcase"))
        except (OSError, ET.ParseError):
            return []
    return cases


def main(testlogs: str, extra: str = "") -> int:
    passed = failed = 0
    if extra:
        for line in pathlib.Path(extra).read_text().splitlines():
            verdict, _, name = line.partition(" ")
            if verdict == "PASS":
                passed += 1
            else:
                print(f"failed outside Bazel: {name or line}")
                failed += 1
    for label in sorted(line.strip() for line in sys.stdin if line.strip()):
        cases = results_of(pathlib.Path(testlogs), label)
        if not cases:
            print(f"no test results from {label}")
            failed += 1
            continue
        for case in cases:
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.get("status", "run") == "run" and case.get("result", "completed") != "skipped":
                passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "bazel-testlogs", sys.argv[2] if len(sys.argv) > 2 else ""))
