"""`make bench`: run every benchmark in bench/ and print its figures.

Benchmarks compare each security layer against a bare baseline measured in the same run.
The inventory, audit and lifecycle benchmarks arrive with their issues.
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    found = [
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    ]
    if not found:
        print("no benchmarks yet")
        return 0
    for name in sorted(found):
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
