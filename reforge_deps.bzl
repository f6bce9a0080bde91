"""Reforge's external repositories, for its own WORKSPACE and for a
workspace that uses Reforge as an external repository
(examples/out_of_tree/WORKSPACE):

    local_repository(name = "reforge", path = "/path/to/reforge")
    load("@reforge//:reforge_deps.bzl", "reforge_dependencies")
    reforge_dependencies(reforge = "@reforge", root = "/path/to/reforge")

Offline, for Debian's bazel-bootstrap 4.2.3: everything Bazel would
download is a local repository, and system libraries come in as
new_local_repository wrappers (docs/BUILD.md).
"""

def reforge_dependencies(reforge = "", root = "."):
    """Declares the repositories Reforge's BUILD files name.

    Args:
      reforge: how the calling workspace names Reforge ("" in Reforge itself).
      root: Reforge's directory, relative to the calling workspace or absolute.
    """
    native.local_repository(name = "rules_cc", path = root + "/third_party/rules_cc")
    native.local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
    native.local_repository(name = "platforms", path = "/usr/share/bazel/tools/platforms")
    native.local_repository(name = "remote_coverage_tools", path = root + "/third_party/remote_coverage_tools")
    system = {
        "gtest": "/usr",
        "fmt": "/usr",
        "benchmark": "/usr",
        "llvm": "/usr/lib/llvm-19",
        "cuda": "/usr/local/cuda",
        # Benchmark-only: OpenBLAS (Debian's libopenblas-dev, installed by
        # bench/install_deps.sh), the reference for the GEMM benchmark.
        "openblas": "/usr",
        # Open MPI (Debian's libopenmpi-dev): the data-parallel communicator.
        "mpi": "/usr/lib/x86_64-linux-gnu/openmpi",
    }
    for name, path in system.items():
        native.new_local_repository(
            name = name,
            build_file = reforge + "//third_party:" + name + ".BUILD",
            path = path,
        )
