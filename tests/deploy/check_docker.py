#!/usr/bin/env python3
"""deploy/docker: the container build files are correct without an engine.

No Docker engine runs here, so this reads every Dockerfile and checks:
  - bases are Debian 12 (debian:12 to build, debian:12-slim to run), the
    runtime stage runs as a non-root USER, ENTRYPOINT is exec form (SIGTERM
    reaches the program), worker images run tini as PID 1;
  - every COPY source exists: in the repository for the build context, or
    as something an earlier stage of the same file builds (`ninja` target
    outputs, files its RUN writes);
  - every program built or copied is a real CMake target: the project is
    configured here with the Dockerfiles' own cmake flags and the targets
    are looked up in the generated build;
  - every apt package installed is in deploy/install-deps.sh (the one list
    of the project's system packages), but for a few runtime-only ones;
  - each Dockerfile has a <name>.dockerignore keeping build trees and .git
    out of the context; every program of the project has an image;
  - runtime-packages.sh (which picks each runtime stage's packages) finds
    the right Debian packages for the built binaries, and fails on a
    library no package holds.
Usage: check_docker.py SOURCE_DIR BIN_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(sys.argv[1])
BIN = Path(sys.argv[2])
DOCKER = SRC / "deploy/docker"
failures = []

# Packages a runtime or trainer stage may add beyond deploy/install-deps.sh.
EXTRA_PACKAGES = {
    "tini": "PID 1 of worker images: forwards SIGTERM to the daemon only, reaps orphans",
    "python3-venv": "the GPU trainer stage installs a CUDA PyTorch wheel into a venv",
}
# Programs whose CMake target another branch provides: the name must then be
# the placeholder CMakeLists.txt's to fill (no add_executable in it yet).
PENDING_TARGETS = {"ladder-train": SRC / "worker/train/CMakeLists.txt"}
PROGRAMS = {"ladder-coordinator", "ladder-worker", "ladder", "ladder-sim", "ladder-train"}


def fail(msg):
    failures.append(msg)


def instructions(path):
    """[(INSTRUCTION, argument text)] with continuations joined, comments dropped."""
    out, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


install_deps = (SRC / "deploy/install-deps.sh").read_text()
block = re.search(r"^PACKAGES=\((.*?)^\)", install_deps, re.S | re.M)
deps_list = set()
for line in (block.group(1) if block else "").splitlines():
    deps_list |= set(re.findall(r"[a-z0-9][a-z0-9+.-]+", line.split("#")[0]))
if len(deps_list) < 20:
    fail(f"could not read the PACKAGES list of deploy/install-deps.sh (got {sorted(deps_list)})")
options = set(re.findall(r"option\((\w+)", (SRC / "CMakeLists.txt").read_text()))
add_executables = set()
for cm in SRC.rglob("CMakeLists.txt"):
    if "build" in cm.relative_to(SRC).parts[0]:
        continue
    add_executables |= set(re.findall(r"add_executable\(([\w-]+)", cm.read_text()))

dockerfiles = sorted(DOCKER.glob("*.Dockerfile"))
if len(dockerfiles) < 4:
    fail(f"expected Dockerfiles for the coordinator, the CLI and the workers; found {[d.name for d in dockerfiles]}")
configures = {}  # cmake flags -> [(dockerfile, targets)]
shipped = set()
for df in dockerfiles:
    name = df.name
    ins = instructions(df)
    ignore = DOCKER / (name + ".dockerignore")
    if not ignore.exists():
        fail(f"{name}: no {ignore.name} (the context would carry build trees and .git)")
    else:
        lines = set(ignore.read_text().split())
        for need in (".git", "build*"):
            if need not in lines:
                fail(f"{ignore.name}: must exclude {need}")
    stages = []  # [{"name", "base", "runs": text}]
    for word, arg in ins:
        if word == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arg, re.I)
            stages.append({"name": m.group(2), "base": m.group(1), "runs": "", "built": set()})
            if m.group(1) not in ("debian:12", "debian:12-slim"):
                fail(f"{name}: base {m.group(1)}; use debian:12 (build) or debian:12-slim (runtime)")
            continue
        if not stages:
            if word != "ARG":
                fail(f"{name}: {word} before FROM")
            continue
        st = stages[-1]
        if word == "RUN":
            st["runs"] += arg + "\n"
            for pkgs in re.findall(r"apt-get install ((?:[^&|;]|\\\n)*)", arg):
                for p in re.sub(r"\$\([^)]*\)", " ", pkgs).split():
                    if p.startswith("-"):
                        continue
                    if p not in deps_list and p not in EXTRA_PACKAGES:
                        fail(f"{name}: apt package {p} is not in deploy/install-deps.sh")
            for m in re.finditer(r"cmake -S \. -B (\S+)(.*?)(?:&&|$)", arg):
                bdir, rest = m.group(1), m.group(2)
                for opt in re.findall(r"-D(LADDER_\w+)=", rest):
                    if opt not in options:
                        fail(f"{name}: -D{opt} is not an option() of CMakeLists.txt")
                key = tuple(sorted(f for f in re.findall(r"-D\S+", rest)
                                   if f.startswith(("-DLADDER_", "-DCMAKE_BUILD_TYPE"))))
                st.setdefault("configs", {})[bdir] = key
            for m in re.finditer(r"ninja -C (\S+) ([\w\s-]+?)(?:&&|$)", arg):
                bdir, targets = m.group(1), m.group(2).split()
                key = st.get("configs", {}).get(bdir)
                if key is None:
                    fail(f"{name}: ninja -C {bdir} without a cmake -B {bdir} before it")
                    continue
                for t in targets:
                    st["built"].add(f"/src/{bdir}/bin/{t}")
                    configures.setdefault(key, []).append((name, t))
        elif word == "COPY":
            parts = arg.split()
            src_stage = None
            if parts[0].startswith("--from="):
                src_stage = parts[0].split("=", 1)[1]
                parts = parts[1:]
            sources, dest = parts[:-1], parts[-1]
            if src_stage is None:
                for s in sources:
                    if not (SRC / s).exists():
                        fail(f"{name}: COPY {s}: not in the repository")
            else:
                earlier = [x for x in stages[:-1] if x["name"] == src_stage]
                if not earlier:
                    fail(f"{name}: COPY --from={src_stage}: no earlier stage of that name")
                    continue
                prev = earlier[0]
                for s in sources:
                    made = s in prev["built"] or re.search(rf"(>|venv |-d[^\n]*){re.escape(s)}\b", prev["runs"])
                    if not made:
                        fail(f"{name}: COPY --from={src_stage} {s}: that stage does not build or write it")
                    if s in prev["built"]:
                        shipped.add(Path(s).name)
        elif word == "ENTRYPOINT":
            if not arg.startswith("["):
                fail(f"{name}: ENTRYPOINT in exec form (JSON), so SIGTERM reaches the program")
            elif "worker" in name and not arg.startswith('["/usr/bin/tini", "--"'):
                fail(f"{name}: worker images run tini as PID 1")
        elif word == "USER":
            st["user"] = arg
    final = stages[-1] if stages else {}
    if final.get("base") != "debian:12-slim":
        fail(f"{name}: the runtime stage should be debian:12-slim")
    if final.get("user", "root").split(":")[0] in ("root", "0"):
        fail(f"{name}: the runtime stage runs as root; add USER")
    if "runtime-packages.txt" not in final.get("runs", ""):
        fail(f"{name}: the runtime stage installs the packages runtime-packages.sh listed")
    if not any(w == "ENTRYPOINT" for w, _ in ins):
        fail(f"{name}: no ENTRYPOINT")

for p in PROGRAMS - shipped:
    fail(f"no Dockerfile ships {p}")

# ---------------------------------------------------------------- targets, from a real configure
for key, uses in configures.items():
    trainer_only = "-DLADDER_TRAINER_ONLY=ON" in key
    for df, t in uses:
        if t in PENDING_TARGETS and t not in add_executables:
            placeholder = PENDING_TARGETS[t]
            if not placeholder.exists() or "add_executable" in placeholder.read_text():
                fail(f"{df}: {t} is not a target, and {placeholder} is not its placeholder")
            uses = [u for u in uses if u[1] != t]
    if trainer_only:
        # Needs libtorch; checked against the sources above when pending.
        for df, t in uses:
            if t not in add_executables:
                fail(f"{df}: {t} is not an add_executable of the project")
        continue
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["cmake", "-S", str(SRC), "-B", tmp, "-G", "Ninja", *key], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            fail(f"cmake {' '.join(key)} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
            continue
        targets = subprocess.run(["ninja", "-C", tmp, "-t", "targets", "all"], capture_output=True, text=True).stdout
        names = set(re.findall(r"^([\w-]+): phony", targets, re.M))
        for df, t in uses:
            if t not in names:
                fail(f"{df}: ninja target {t} does not exist with {' '.join(key)}")

# ---------------------------------------------------------------- runtime-packages.sh on the real binaries
script = DOCKER / "runtime-packages.sh"
want = {"ladder-coordinator": {"libgrpc++1.51", "libpqxx-6.4", "libprometheus-cpp-core1.0", "libc6"},
        "ladder-worker": {"libgrpc++1.51", "libprometheus-cpp-core1.0", "libboost-filesystem1.74.0"},
        "ladder-sim": {"libc6", "libstdc++6"}}
for binary, need in want.items():
    r = subprocess.run([str(script), str(BIN / binary)], capture_output=True, text=True, timeout=120)
    got = set(r.stdout.split())
    if r.returncode != 0 or not need <= got:
        fail(f"runtime-packages.sh {binary}: exit {r.returncode}, missing {sorted(need - got)}; {r.stderr}")
    if any(p.endswith("-dev") for p in got):
        fail(f"runtime-packages.sh {binary}: lists -dev packages {sorted(got)}")
with tempfile.TemporaryDirectory() as tmp:
    # A library no package holds (a private copy found first) must fail it.
    ldd = subprocess.run(["ldd", str(BIN / "ladder-sim")], capture_output=True, text=True).stdout
    absl = re.search(r"=> (\S*libabsl_\S+)", ldd)
    if not absl:
        fail("ladder-sim links no abseil library to copy for the negative test")
    else:
        shutil.copy(absl.group(1), tmp)
        r = subprocess.run([str(script), str(BIN / "ladder-sim")], capture_output=True, text=True,
                           env={**os.environ, "LD_LIBRARY_PATH": tmp}, timeout=60)
        if r.returncode == 0 or "no package holds" not in r.stderr:
            fail(f"runtime-packages.sh accepted a library no package holds (exit {r.returncode}): {r.stdout}")
r = subprocess.run([str(script), "/nonexistent/program"], capture_output=True, text=True)
if r.returncode == 0:
    fail("runtime-packages.sh accepted a missing program")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print(f"ok: {len(dockerfiles)} Dockerfiles, programs {sorted(shipped)}")
