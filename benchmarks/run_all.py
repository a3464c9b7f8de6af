"""Run every benchmark of issue 4 at full size, one after the other.

Each script runs in its own process with its default (full) sizes; their
output goes to the terminal and, with ``--log``, to a file. At the end the
lines that judge a target are collected in one summary. The whole set takes
about 10-15 minutes on an idle 2-core machine.

    python benchmarks/run_all.py --log benchmarks-results.md
    python benchmarks/run_all.py --only bench_sgd_step bench_predict
    python benchmarks/run_all.py --blas-threads 1   # a machine shared with others
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# In the order of the table, then the scaling study and the profiles.
SCRIPTS = [
    "bench_sgd_step",
    "bench_mnist_sized",
    "bench_numerical",
    "bench_predict",
    "bench_solvers",
    "bench_regressor",
    "bench_scaling",
    "profile_steps",
    "profile_step_ops",
]


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument(
        "--only", nargs="+", choices=SCRIPTS, help="run only these scripts"
    )
    parser.add_argument("--log", type=Path, help="also write all output to this file")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="pass --blas-threads N to every script (default: BLAS as is)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the commands, run nothing"
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Run the scripts; return 1 if any of them failed."""
    args = parse_args(argv)
    extra = (
        [] if args.blas_threads is None else ["--blas-threads", str(args.blas_threads)]
    )
    log = args.log.open("w") if args.log and not args.dry_run else None
    verdicts, failed = [], []
    for name in args.only or SCRIPTS:
        command = [sys.executable, str(HERE / f"{name}.py"), *extra]
        print(f"$ python benchmarks/{name}.py {' '.join(extra)}".rstrip(), flush=True)
        if args.dry_run:
            continue
        start = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in proc.stdout:
            sys.stdout.write(line)
            if log:
                log.write(line)
            if ": met" in line or "NOT met" in line:
                verdicts.append(f"{name}: {line.strip()}")
        if proc.wait():
            failed.append(name)
        print(f"({name} took {time.perf_counter() - start:.0f} s)\n", flush=True)
    if args.dry_run:
        return 0
    summary = ["## Targets", "", *verdicts, ""]
    if failed:
        summary.append(f"FAILED: {', '.join(failed)}")
    print("\n".join(summary))
    if log:
        log.write("\n" + "\n".join(summary) + "\n")
        log.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
