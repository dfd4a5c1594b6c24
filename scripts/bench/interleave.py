#!/usr/bin/python3
"""Interleaved bare/traced chunks in two long-lived processes (make bench).

    interleave.py --pairs N --out PREFIX [--cpu C] [--timeout S]
                  --bare 'SHELL COMMAND' --traced 'SHELL COMMAND'
    interleave.py ... --side NAME 'SHELL COMMAND' --side NAME2 '...' ...

Why.  On the 2-core VM the bench runs on, one process's work per request
differs from the next process's by 10-30 %: where the scheduler puts the
client relative to its server (same core or the other one) changes the
cost of every round trip, and for a second or more at a time the whole
machine runs 1.3-1.6 times slower.  A budget of 2 us on a 35-60 us round
trip cannot be judged through that.  So the two sides of a figure run at
once as two processes that stay up, pinned to the same core (--cpu; their
servers are pinned to the other by the scenario), and take turns: the
bare one runs one chunk of work, then the traced one, then the traced one
again and the bare one (ABBA: neither side always goes first), and so on.
Two chunks a few tens of milliseconds apart see the same machine.  With
more than two sides (--side, in the order given) a round runs them in
order, the next one in reverse order (ABC CBA), and so on.

The child protocol.  Each command reads its standard input line by line;
for every line it runs one chunk of its loop and prints one line of
whitespace-separated figures (e.g. "wall-us-per-op cpu-us-per-op"; the
CPU counted from the end of its previous chunk, so that the exporter's
work between chunks is not left out); at the end of its input it exits.
The first pair is a warm-up and is not kept.

Output: PREFIX.bare and PREFIX.traced (PREFIX.NAME for each --side), line
i of each the figures of pair (round)
i (what scripts/bench/lib.sh's pair_fig, median and judge read).  Exit 0,
or 1 with one line on stderr if a child fails, answers something that is
not figures, or says nothing for --timeout seconds (120); the files then
hold the pairs done so far.
"""
import argparse
import os
import select
import subprocess
import sys
import time


def start(cmd, cpu):
    def pin():
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
    return subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, preexec_fn=pin)


def chunk(name, proc, timeout):
    """One chunk of PROC: its figures, as the text of one line."""
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    line, deadline = b"", time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise RuntimeError("%s: no answer in %d s" % (name, timeout))
        b = os.read(proc.stdout.fileno(), 4096)
        if not b:
            raise RuntimeError("%s: ended (status %s)" % (name, proc.wait()))
        line += b
    text = line.decode("ascii", "replace").strip()
    try:
        [float(x) for x in text.split()]
    except ValueError:
        text = ""
    if not text:
        raise RuntimeError("%s: answered %r, not figures" % (name, line[:80]))
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cpu", type=int)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--bare")
    ap.add_argument("--traced")
    ap.add_argument("--side", nargs=2, action="append", default=[],
                    metavar=("NAME", "COMMAND"))
    a = ap.parse_args()
    sides = list(a.side)
    if a.bare is not None and a.traced is not None:
        sides = [("bare", a.bare), ("traced", a.traced)] + sides
    if len(sides) < 2 or len(set(n for n, _ in sides)) != len(sides):
        ap.error("two sides or more, named once each")
    names = [n for n, _ in sides]
    procs = {n: start(c, a.cpu) for n, c in sides}
    files = {k: open("%s.%s" % (a.out, k), "w") for k in procs}
    rc = 0
    try:
        for i in range(a.pairs + 1):
            order = names if i % 2 == 0 else names[::-1]
            got = {k: chunk(k, procs[k], a.timeout) for k in order}
            if i > 0:
                for k in procs:
                    files[k].write(got[k] + "\n")
                    files[k].flush()
    except (RuntimeError, OSError) as e:
        print("interleave: %s" % e, file=sys.stderr)
        rc = 1
    for p in procs.values():
        try:
            p.stdin.close()
        except OSError:
            pass
    for p in procs.values():
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return rc


if __name__ == "__main__":
    sys.exit(main())
