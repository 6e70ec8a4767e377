#!/usr/bin/env python3
"""deploy/README.md: every command in it is real.

Reads each fenced code block of the operator guide, joins continuation
lines, splits pipelines and `&&` chains, and checks each command of a
program we can ask:
  - ladder, ladder-coordinator, ladder-worker: the subcommand exists and
    every --flag is listed by `PROGRAM [SUBCOMMAND] --help` at the place it
    is written (CLI11 takes a parent's flags only before the subcommand);
  - deploy/certs/make-certs.sh, deploy/local/up.sh and down.sh: flags from
    their usage text;
  - promtool, prometheus, pg_dump, pg_restore, pg_basebackup, createdb, psql:
    subcommands and --flags from their --help;
  - systemctl/journalctl units are the shipped ones; docker -f, kubectl -k,
    sbatch and install arguments under deploy/ exist;
and that every repository path the guide names (deploy/..., worker/...)
exists. Programs not installed here (kubectl, docker, sbatch, ...) are
checked only for the files they are given.
Usage: check_guide.py SOURCE_DIR BIN_DIR
"""
import re
import shlex
import subprocess
import sys
from pathlib import Path

SRC = Path(sys.argv[1])
BIN = Path(sys.argv[2])
GUIDE = SRC / "deploy/README.md"
failures = []
checked = {}


def fail(msg):
    failures.append(msg)


_help_cache = {}


def help_text(argv):
    key = tuple(argv)
    if key not in _help_cache:
        try:
            r = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=30)
            _help_cache[key] = (r.returncode, r.stdout + r.stderr)
        except FileNotFoundError:
            _help_cache[key] = (127, "")
    return _help_cache[key]


def long_flags(text):
    return set(re.findall(r"(--[a-z0-9][a-z0-9.-]*)", text))


def script_usage(path):
    """Flags a shell script documents in its header comment."""
    header = "".join(line for line in (SRC / path).read_text().splitlines(True)[:25] if line.startswith("#"))
    return long_flags(header)


CLI11 = {"ladder", "ladder-coordinator", "ladder-worker"}
PG = {"pg_dump", "pg_restore", "pg_basebackup", "createdb", "psql"}
SCRIPTS = {"deploy/certs/make-certs.sh", "deploy/local/up.sh", "deploy/local/down.sh"}


def check_cli11(prog, args, where):
    base = [str(BIN / prog)]
    code, top = help_text(base)
    if code != 0:
        fail(f"{where}: {prog} --help failed")
        return
    subs = set(re.findall(r"^  ([a-z][a-z-]+)\s{2,}", top.split("Subcommands:")[1], re.M)) if "Subcommands:" in top else set()
    scope, scope_help = prog, top
    for a in args:
        if a.startswith("--"):
            flag = a.split("=", 1)[0]
            if flag not in long_flags(scope_help):
                fail(f"{where}: {flag} is not a flag of `{scope}` (see `{scope} --help`)")
        elif not a.startswith("-") and a in subs and scope == prog:
            scope = f"{prog} {a}"
            code, scope_help = help_text(base + [a])
            checked[scope] = checked.get(scope, 0) + 1
    if subs and scope == prog and "--help" not in args:
        fail(f"{where}: `{prog}` without one of its subcommands {sorted(subs)}")


def check_command(words, where):
    # Drop environment assignments and privilege wrappers.
    while words and (re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]) or words[0] in ("export",)):
        if words[0] == "export":
            return
        words = words[1:]
    if words[:1] == ["sudo"]:
        words = words[1:]
        while words and words[0].startswith("-"):
            words = words[2:] if words[0] in ("-u", "-g") else words[1:]
    if not words:
        return
    prog, args = words[0], words[1:]
    name = Path(prog).name
    if name == "kubectl":
        # `kubectl exec POD -- PROGRAM ...` runs one of ours; -k/-f name files.
        if "--" in args:
            check_command(args[args.index("--") + 1:], where)
        for flag, value in zip(args, args[1:]):
            if flag in ("-k", "-f") and not (SRC / value).exists():
                fail(f"{where}: {value} does not exist")
        return
    if name in CLI11:
        checked[name] = checked.get(name, 0) + 1
        check_cli11(name, args, where)
    elif prog in SCRIPTS:
        checked[prog] = checked.get(prog, 0) + 1
        flags = script_usage(prog)
        for a in args:
            if a.startswith("--") and a.split("=")[0] not in flags:
                fail(f"{where}: {a} is not a flag of {prog}")
    elif name in PG or name in ("promtool", "prometheus"):
        checked[name] = checked.get(name, 0) + 1
        argv = [name] + [a for a in args[:2] if name == "promtool" and not a.startswith("-")]
        code, text = help_text(argv)
        if not text:
            fail(f"{where}: {name} is not installed, so the command cannot be checked")
            return
        if name == "promtool" and len(argv) > 1 and code != 0:
            fail(f"{where}: `promtool {' '.join(argv[1:])}` is not a promtool command")
        for a in args:
            if a.startswith("--") and a.split("=")[0] not in long_flags(text):
                fail(f"{where}: {a.split('=')[0]} is not a flag of `{' '.join(argv)}`")
    elif name in ("systemctl", "journalctl"):
        for a in args:
            if a.startswith("ladder-") and not (SRC / f"deploy/systemd/{a}.service").exists():
                fail(f"{where}: no unit {a}")
    for i, a in enumerate(args):
        if name in ("docker", "sbatch", "install", "sed", "cp") or prog in SCRIPTS:
            if a.startswith("deploy/") and not (SRC / a).exists():
                fail(f"{where}: {a} does not exist")


text = GUIDE.read_text()
blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
if len(blocks) < 10:
    fail(f"only {len(blocks)} code blocks in the guide?")
for block in blocks:
    joined = re.sub(r"\\\n\s*", " ", block)
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"\$\([^)]*\)", "X", line)  # command substitutions
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
            part = part.rstrip("&").strip()
            if not part:
                continue
            try:
                words = shlex.split(part.split(" #")[0])
            except ValueError as e:
                fail(f"cannot parse `{part}`: {e}")
                continue
            check_command(words, f"`{part}`")

# Repository paths (not kubectl's deploy/NAME resource references).
for path in sorted(set(re.findall(r"(?<![\w/])((?:deploy|worker|tests)/[\w./-]*[\w/])", text))):
    if re.fullmatch(r"deploy/ladder-[a-z-]+", path):
        continue
    if not (SRC / path).exists():
        fail(f"the guide names {path}, which does not exist")

for need in ("ladder", "ladder-coordinator", "ladder-coordinator create-token", "ladder drain",
             "deploy/certs/make-certs.sh", "pg_dump", "pg_restore", "promtool"):
    if not checked.get(need):
        fail(f"the guide shows no `{need}` command (stand up, first token, drain, back up, metrics)")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print(f"ok: {sum(checked.values())} commands checked: {sorted(checked)}")
