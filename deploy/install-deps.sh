#!/usr/bin/env bash
# Installs the Debian 12 packages Ladder builds, tests and runs with, if any
# is missing (apt-get update first). Run as root, or as a user with sudo.
# The list is the one place the project's system dependencies are written.
#
#   deploy/install-deps.sh [--corpus]
#
# --corpus adds the packages the default corpus, debian-en, is made from
# (deploy/data/prepare-english.sh; about 90 MB to download, 380 MB
# installed). demo.sh passes it; the test suite does not need them. Note:
# dict-gcide brings dictd, a dictionary server on 127.0.0.1 only, and
# perl-doc and python3.11-doc upgrade perl and python3.11 to their own
# versions when the installed ones are older.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # RPC and serialisation
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # storage, config, CLI
  libpqxx-dev postgresql libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  # Boost (Asio, Beast, Process), OpenSSL
  libboost-dev libboost-filesystem-dev libssl-dev openssl
  # metrics
  prometheus-cpp-dev prometheus
  # training and fitting
  libtorch-dev libceres-dev libeigen3-dev
  # the default corpus (King James Bible, via the `bible` program)
  bible-kjv
  # plots
  gnuplot-nox
  # tests: GoogleTest, and PyTorch for the trainer's golden tests and benchmark
  libgtest-dev libgmock-dev python3 python3-torch
  # fuzzing the parsers (fuzz/): clang with libFuzzer and the sanitizers
  clang-14 libclang-rt-14-dev
  # misc tools used by scripts
  procps curl
  # the deployment checks: YAML manifests, shell scripts, systemd units
  python3-yaml shellcheck systemd
)
CORPUS_PACKAGES=(
  # deploy/data/prepare-english.sh: the debian-en corpus (bible-kjv above too)
  dict-gcide wordnet-base linux-doc-6.1 python3.11-doc perl-doc postgresql-doc-15 vim-runtime
)
case "${1:-}" in
  --corpus) PACKAGES+=("${CORPUS_PACKAGES[@]}") ;;
  "") ;;
  *) echo "install-deps: unknown argument $1 (only --corpus)" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
