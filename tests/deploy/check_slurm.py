#!/usr/bin/env python3
"""deploy/slurm/ladder-worker.sbatch runs a real ladder-worker per node and
drains on SIGTERM.

No SLURM here: a stand-in `srun` on PATH runs the script's per-node command
once per "node" with the variables SLURM sets for a task (SLURMD_NODENAME,
SLURM_GPUS_ON_NODE, CUDA_VISIBLE_DEVICES, SLURM_CPUS_ON_NODE, ...), and a
stand-in `nvidia-smi` describes two H100s. The daemons are the real
ladder-worker (and ladder-sim as trainer), pointed at a coordinator address
where nothing listens; they start, find their GPUs, serve /metrics with the
GPUs' utilisation, and on SIGTERM (what `--signal=TERM@120` and `scancel
--signal=TERM` deliver to the tasks) drain and exit 0, ending the job.
Also checks the #SBATCH header: one task per node, and a --signal lead time
longer than the drain.
Usage: check_slurm.py SOURCE_DIR BIN_DIR
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SRC = Path(sys.argv[1])
BIN = Path(sys.argv[2])
SCRIPT = SRC / "deploy/slurm/ladder-worker.sbatch"
failures = []


def fail(msg):
    failures.append(msg)


FAKE_SRUN = r'''#!/usr/bin/env python3
import json, os, signal, subprocess, sys
args = sys.argv[1:]
opts, cmd = [], []
for i, a in enumerate(args):
    if not a.startswith("-"):
        cmd = args[i:]
        break
    opts.append(a)
nodes = int(next(o.split("=", 1)[1] for o in opts if o.startswith("--nodes=")))
gpus = int(os.environ.get("FAKE_GPUS_PER_NODE", "0"))
children = []
for n in range(nodes):
    env = dict(os.environ, SLURM_PROCID=str(n), SLURM_NODEID=str(n), SLURMD_NODENAME="node%d" % n,
               SLURM_CPUS_ON_NODE="4", SLURM_STEP_ID="0")
    if gpus:
        env["SLURM_GPUS_ON_NODE"] = str(gpus)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in range(gpus))
    children.append(subprocess.Popen(cmd, env=env))
with open(os.environ["FAKE_SRUN_STATE"], "w") as f:
    json.dump({"opts": opts, "pids": [c.pid for c in children]}, f)
signal.signal(signal.SIGTERM, lambda *_: [c.send_signal(signal.SIGTERM) for c in children])
sys.exit(max(c.wait() for c in children))
'''

FAKE_NVIDIA_SMI = r'''#!/bin/sh
case "$*" in
  *--query-gpu=index,name,memory.total*) printf '0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n' ;;
  *--query-gpu=index,utilization.gpu,memory.used,memory.total*) printf '0, 50, 1000, 81559\n1, 0, 10, 81559\n' ;;
  *) exit 1 ;;
esac
'''


def duration_s(text):
    m = re.fullmatch(r"([0-9.]+)(ms|s|m|h)?", text)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


# ---------------------------------------------------------------- the header
text = SCRIPT.read_text()
sbatch = dict(re.findall(r"^#SBATCH --([a-z-]+)(?:=(\S+))?", text, re.M))
if sbatch.get("ntasks-per-node") != "1":
    fail("#SBATCH --ntasks-per-node=1 (one daemon per node)")
m = re.fullmatch(r"(?:B:)?TERM@(\d+)", sbatch.get("signal", ""))
if not m or sbatch["signal"].startswith("B:"):
    fail("#SBATCH --signal=TERM@SECONDS (to the tasks, not only the batch shell)")
else:
    defaults = {k: duration_s(v) for k, v in re.findall(r"(LADDER_(?:DRAIN_GRACE|KILL_GRACE|DRAIN_REPORT_TIMEOUT))"
                                                          r"=\$\{\1:-([0-9.]+[a-z]*)\}", text)}
    if len(defaults) != 3:
        fail(f"drain timings not found as defaults in the script: {defaults}")
    elif sum(defaults.values()) >= int(m.group(1)):
        fail(f"drain takes up to {sum(defaults.values())} s, more than --signal's {m.group(1)} s")
if not re.search(r"^srun .*--ntasks-per-node=1", text, re.M):
    fail("srun must start one task per node")


def run_job(tmp, nodes, gpus_per_node):
    """Runs the script; returns (process, log path, state path)."""
    tools = Path(tmp) / "tools"
    tools.mkdir(exist_ok=True)
    (tools / "srun").write_text(FAKE_SRUN)
    (tools / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    for t in ("srun", "nvidia-smi"):
        (tools / t).chmod(0o755)
    state = Path(tmp) / f"srun-{nodes}-{gpus_per_node}.json"
    log = Path(tmp) / f"job-{nodes}-{gpus_per_node}.log"
    env = dict(os.environ,
               PATH=f"{tools}:{os.environ['PATH']}",
               SLURM_JOB_ID="4242", SLURM_JOB_NUM_NODES=str(nodes),
               FAKE_GPUS_PER_NODE=str(gpus_per_node), FAKE_SRUN_STATE=str(state),
               LADDER_ENV_FILE="/nonexistent/worker.env",
               LADDER_BIN=str(BIN), LADDER_TRAINER=str(BIN / "ladder-sim"),
               LADDER_COORDINATOR="127.0.0.1:1",
               LADDER_WORK_ROOT=f"{tmp}/work", LADDER_METRICS_LISTEN="127.0.0.1:0",
               LADDER_TLS_DIR=f"{tmp}/no-tls",
               LADDER_WORKER_ARGS="--insecure --device-sample-interval=200ms",
               LADDER_DRAIN_GRACE="1s")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    # A session of its own, so cleanup reaches every process the job started.
    proc = subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, log, state


def kill_job(proc):
    """SIGKILLs whatever of the job is left (its whole session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def wait_for(cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def sample(metrics, series):
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


with tempfile.TemporaryDirectory() as tmp:
    # ---------------------------------------------------------------- two GPU nodes
    proc, log, state = run_job(tmp, nodes=2, gpus_per_node=2)
    try:
        ok = wait_for(lambda: len(re.findall(r"serving /metrics on port (\d+)", log.read_text())) == 2, 20)
        out = log.read_text()
        if not ok:
            fail(f"two daemons did not start serving metrics:\n{out}")
        else:
            srun = json.loads(state.read_text())
            if "--ntasks-per-node=1" not in srun["opts"] or "--nodes=2" not in srun["opts"]:
                fail(f"srun options {srun['opts']}")
            for node in ("node0", "node1"):
                if f"name slurm-{node}-4242" not in out:
                    fail(f"no daemon named slurm-{node}-4242:\n{out}")
            if out.count("devices cuda:0,1;") != 2 or out.count("threads-per-slot 2;") != 2:
                fail(f"each daemon should take the node's GPUs 0,1 with 2 threads each:\n{out}")
            if out.count("cuda NVIDIA H100 80GB HBM3") != 4:
                fail(f"each daemon should register its two GPUs:\n{out}")
            for port in re.findall(r"serving /metrics on port (\d+)", out):
                metrics = ""
                wait_for(lambda: sample(metrics := scrape(port),
                                        'ladder_worker_device_utilization_ratio{device="0",kind="cuda"}') is not None, 5)
                metrics = scrape(port)
                if sample(metrics, 'ladder_worker_devices{kind="cuda"}') != 2:
                    fail(f"port {port}: ladder_worker_devices{{kind=cuda}} != 2:\n{metrics}")
                if sample(metrics, 'ladder_worker_device_utilization_ratio{device="0",kind="cuda"}') != 0.5:
                    fail(f"port {port}: GPU 0 utilisation from nvidia-smi should read 0.5:\n{metrics}")
                if sample(metrics, 'ladder_worker_device_memory_total_bytes{device="1",kind="cuda"}') != 81559 * 2**20:
                    fail(f"port {port}: GPU 1 memory total:\n{metrics}")
            time.sleep(0.5)
            if proc.poll() is not None:
                fail(f"the job ended before it was signalled (exit {proc.returncode}):\n{log.read_text()}")
            # What SLURM does at --signal time or on `scancel --signal=TERM`: SIGTERM to the tasks.
            for pid in srun["pids"]:
                os.kill(pid, signal.SIGTERM)
            try:
                code = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                code = None
            out = log.read_text()
            if code != 0:
                fail(f"after SIGTERM the job should drain and exit 0, got {code}:\n{out}")
            if out.count("draining (SIGTERM)") != 2 or out.count("ladder-worker exiting with 0") != 2:
                fail(f"both daemons should drain on SIGTERM and exit 0:\n{out}")
    finally:
        kill_job(proc)

    # ---------------------------------------------------------------- a CPU node
    proc, log, state = run_job(tmp, nodes=1, gpus_per_node=0)
    try:
        if not wait_for(lambda: "serving /metrics on port" in log.read_text(), 20):
            fail(f"the CPU daemon did not start:\n{log.read_text()}")
        else:
            out = log.read_text()
            if "devices cpu;" not in out or "threads-per-slot 4;" not in out or "device 0: cpu" not in out:
                fail(f"without GPUs the daemon runs one CPU slot with the node's 4 CPUs:\n{out}")
            for pid in json.loads(state.read_text())["pids"]:
                os.kill(pid, signal.SIGTERM)
            code = proc.wait(timeout=20)
            if code != 0:
                fail(f"CPU job: exit {code} after SIGTERM:\n{log.read_text()}")
    finally:
        kill_job(proc)

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("ok: sbatch script runs a draining daemon per node")
