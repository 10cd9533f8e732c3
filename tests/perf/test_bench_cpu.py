"""The load benchmark's CPU split (bench/load/cpu.py) counts a process that ends mid-phase for
the part of its life inside the phase, not its whole life (real processes, real /proc)."""

import subprocess
import sys
import time

from bench.load import cpu

# Parent and child both name "celery worker" on their command line: the split's celery group.
CHILD = """
import os, sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
child = os.fork()
if child == 0:
    burn(0.6)
    os.write(1, b"r")
    sys.stdin.read(1)  # the phase begins
    burn(0.1)
    os._exit(0)
os.waitpid(child, 0)
os.write(1, b"d")
sys.stdin.read(1)
"""


def test_a_process_ending_mid_phase_counts_only_its_time_in_the_phase():
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD, "celery", " worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout.read(1) == b"r"  # the child spent 0.6 s before the phase
        before = cpu.snapshot({})
        assert sum(1 for group, _ in before.values() if group == "celery") >= 2
        parent.stdin.write(b"g")
        parent.stdin.flush()
        assert parent.stdout.read(1) == b"d"  # it spent 0.1 s more, ended, and was reaped
        time.sleep(0.05)
        after = cpu.snapshot({})
        spent = cpu.per_request(before, after, requests=1)["celery"]
        # The phase's 100 ms (clock ticks of 10 ms, the parent's own wait), not the child's 700 ms.
        assert 60 <= spent <= 250, spent
    finally:
        parent.stdin.close()
        parent.wait(10)
