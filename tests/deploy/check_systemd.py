#!/usr/bin/env python3
"""deploy/systemd: the units verify with systemd-analyze and do what the
operator guide says.

  - `systemd-analyze verify` passes with nothing to say, on copies whose
    ExecStart points at the built binaries;
  - every flag of ExecStart is one the binary's --help lists, and every
    variable it uses is set in the example environment file the unit reads;
  - both restart on failure but not on bad flags (exit 2); SIGTERM stops
    them; the worker's stop drains: KillMode=mixed (SIGTERM to the daemon
    only; its trainers are its to stop) and TimeoutStopSec longer than
    --drain-grace + --kill-grace + --drain-report-timeout;
  - hardening is on (NoNewPrivileges, ProtectSystem=strict), and the worker
    keeps what trainers need (devices, writable+executable memory, its
    state directory writable).
Usage: check_systemd.py SOURCE_DIR BIN_DIR
"""
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(sys.argv[1])
BIN = Path(sys.argv[2])
UNITS = SRC / "deploy/systemd"
failures = []


def fail(msg):
    failures.append(msg)


def parse_unit(text):
    """{section: {key: [values]}} with continuation lines joined."""
    sections, section, pending = {}, None, ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            sections.setdefault(section, {})
            continue
        key, _, value = line.partition("=")
        sections[section].setdefault(key.strip(), []).append(value.strip())
    return sections


def env_file(path):
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    return env


def duration_s(text):
    m = re.fullmatch(r"([0-9.]+)(ms|s|m|min|h)?", text or "")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, None: 1}[m.group(2)] if m else None


def help_flags(binary):
    out = subprocess.run([str(BIN / binary), "--help"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"(--[a-z0-9-]+)", out.stdout))


if not shutil.which("systemd-analyze"):
    fail("systemd-analyze not found (Debian package systemd)")

with tempfile.TemporaryDirectory() as tmp:
    copies = []
    for name in ("ladder-coordinator", "ladder-worker"):
        text = (UNITS / f"{name}.service").read_text()
        if f"ExecStart=/usr/local/bin/{name} " not in text:
            fail(f"{name}.service: ExecStart=/usr/local/bin/{name} (where `cmake --install` puts it)")
        copy = Path(tmp) / f"{name}.service"
        copy.write_text(text.replace("/usr/local/bin/", str(BIN) + "/"))
        copies.append(str(copy))
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
            fail(f"systemd-analyze verify (exit {r.returncode}):\n{r.stdout}{r.stderr}")

for name, env_example in (("ladder-coordinator", "coordinator.env.example"), ("ladder-worker", "worker.env.example")):
    unit = parse_unit((UNITS / f"{name}.service").read_text())
    svc = unit.get("Service", {})
    one = {k: v[-1] for k, v in svc.items()}
    env = env_file(UNITS / env_example)
    if one.get("EnvironmentFile", "").lstrip("-") != f"/etc/ladder/{env_example.replace('.example', '')}":
        fail(f"{name}: EnvironmentFile=/etc/ladder/{env_example.replace('.example', '')}")
    argv = one["ExecStart"].split()
    flags = help_flags(name)
    for a in argv[1:]:
        if a.startswith("--") and a.split("=")[0] not in flags:
            fail(f"{name}.service: {a} is not a {name} flag")
    for var in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", one["ExecStart"]):
        if var not in env:
            fail(f"{name}.service uses ${var}, which {env_example} does not set")
    # Flags inside the example's *_ARGS are real too.
    for k, v in env.items():
        if k.endswith("_ARGS"):
            for a in v.split():
                if a.startswith("--") and a not in flags:
                    fail(f"{env_example}: {k} has {a}, not a {name} flag")
    if one.get("KillSignal") != "SIGTERM":
        fail(f"{name}: KillSignal=SIGTERM")
    if one.get("Restart") not in ("on-failure", "always"):
        fail(f"{name}: Restart=on-failure or always")
    if "2" not in one.get("RestartPreventExitStatus", "").split():
        fail(f"{name}: RestartPreventExitStatus=2 (bad flags do not fix themselves)")
    if one.get("User") in (None, "root"):
        fail(f"{name}: run as an unprivileged User=")
    if one.get("NoNewPrivileges") != "yes" or one.get("ProtectSystem") != "strict":
        fail(f"{name}: NoNewPrivileges=yes and ProtectSystem=strict")
    if name == "ladder-worker":
        if one.get("KillMode") != "mixed":
            fail("ladder-worker: KillMode=mixed, so SIGTERM reaches the daemon and not its trainers")
        values = {}
        for i, a in enumerate(argv):
            if a in ("--drain-grace", "--kill-grace", "--drain-report-timeout"):
                values[a] = duration_s(argv[i + 1])
        if None in values.values() or len(values) != 3:
            fail(f"ladder-worker: set --drain-grace, --kill-grace and --drain-report-timeout in ExecStart ({values})")
        elif duration_s(one.get("TimeoutStopSec")) <= sum(values.values()):
            fail(f"ladder-worker: TimeoutStopSec={one.get('TimeoutStopSec')} must exceed {sum(values.values()):g} s")
        if "PrivateDevices" in one or "MemoryDenyWriteExecute" in one:
            fail("ladder-worker: PrivateDevices/MemoryDenyWriteExecute break GPU trainers")
        if "--work-dir" not in argv or argv[argv.index("--work-dir") + 1] != "/var/lib/ladder/work":
            fail("ladder-worker: --work-dir /var/lib/ladder/work")
        if one.get("StateDirectory") != "ladder" or "/var/lib/ladder" not in one.get("ReadWritePaths", ""):
            fail("ladder-worker: StateDirectory=ladder and ReadWritePaths=/var/lib/ladder")
    if unit.get("Install", {}).get("WantedBy") != ["multi-user.target"]:
        fail(f"{name}: WantedBy=multi-user.target")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("ok: systemd units verified")
