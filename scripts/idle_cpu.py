#!/usr/bin/env python3
"""CPU of an idle fleet: `fleet up` with nothing to do, every process of its tree, from /proc.

Starts `fleet up` in a scratch run folder, waits WARM seconds (start-up, then the workers' input
partitions pause after 2 s of quiet and their probes slow after 10 s more), reads utime + stime of
every process of the tree, waits WINDOW seconds, reads again and prints each process's share of
one core and the total. Stops the fleet with SIGINT. Ports 8080/8090/9101-9104 must be free.

usage: scripts/idle_cpu.py [--bin-dir .build/release] [--warm 35] [--window 60] [-- extra fleet up args]
"""
import argparse, os, shutil, signal, subprocess, sys, tempfile, time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--bin-dir", default=".build/release")
parser.add_argument("--warm", type=float, default=35.0, help="seconds after start before the first reading")
parser.add_argument("--window", type=float, default=60.0, help="seconds between the two readings")
parser.add_argument("extra", nargs="*", help="more `fleet up` arguments (after --)")
args = parser.parse_args()

run = tempfile.mkdtemp(prefix="idle-cpu-")
ticks = os.sysconf("SC_CLK_TCK")
fleet = subprocess.Popen([os.path.join(args.bin_dir, "fleet"), "up", "--run-dir", run] + args.extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stat(pid):
    """(name, parent, utime + stime in ticks) of a process, or None when it is gone."""
    try:
        text = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    name = text.split("(", 1)[1].rsplit(")", 1)[0]
    fields = text.rsplit(")", 1)[1].split()
    return name, int(fields[1]), int(fields[11]) + int(fields[12])


def tree():
    """Every process under the fleet, the fleet included: {pid: (name, ticks)}."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (s := stat(int(entry))):
            children.setdefault(s[1], []).append(int(entry))
    found, stack = {}, [fleet.pid]
    while stack:
        pid = stack.pop()
        if (s := stat(pid)):
            found[pid] = (s[0], s[2])
        stack += children.get(pid, [])
    return found


try:
    time.sleep(args.warm)
    if fleet.poll() is not None:
        sys.exit(f"fleet up exited with {fleet.returncode} (a port in use?); its log is in {run}/logs")
    load = open("/proc/loadavg").read().split()[0]
    before, started = tree(), time.time()
    time.sleep(args.window)
    after, seconds = tree(), time.time() - started
    if len(after) < 5:
        sys.exit(f"only {len(after)} processes: the workers did not start (see {run}/logs)")
    total = 0.0
    for pid, (name, used) in sorted(after.items()):
        if pid in before:
            share = (used - before[pid][1]) / ticks / seconds * 100
            total += share
            print(f"  {name:20s} {pid:7d} {share:5.2f} %")
    print(f"total {total:.2f} % of one core over {seconds:.0f} s (1-min load {load} before)")
finally:
    try:
        os.killpg(fleet.pid, signal.SIGINT)
        fleet.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(fleet.pid, signal.SIGKILL)
    shutil.rmtree(run, ignore_errors=True)
