#!/bin/sh
# Prints the Debian packages holding the shared libraries that the given
# programs load (one per line, sorted), so a Dockerfile's runtime stage
# installs exactly what its binaries need, and keeps doing so as the build's
# dependencies change:
#   deploy/docker/runtime-packages.sh build/bin/ladder-coordinator
# Fails if a program cannot be read, a library is not found, or a library
# belongs to no package.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 PROGRAM..." >&2; exit 2; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for bin in "$@"; do
  if ! out=$(ldd "$bin" 2>&1); then
    echo "runtime-packages.sh: ldd $bin: $out" >&2
    exit 1
  fi
  if printf '%s\n' "$out" | grep -q 'not found'; then
    echo "runtime-packages.sh: $bin: missing libraries:" >&2
    printf '%s\n' "$out" | grep 'not found' >&2
    exit 1
  fi
  printf '%s\n' "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' >>"$tmp"
done
sort -u "$tmp" >"$tmp.sorted" && mv "$tmp.sorted" "$tmp"
# A library reached through the alternatives system (libblas.so.3 ->
# /etc/alternatives/... -> the chosen implementation) belongs to no package
# under the name ldd prints: look up the file the links end at as well.
real=$(mktemp)
owned=$(mktemp)
owners=$(mktemp)
trap 'rm -f "$tmp" "$real" "$owned" "$owners"' EXIT
while read -r lib; do
  printf '%s %s\n' "$lib" "$(readlink -f "$lib")"
done <"$tmp" >"$real"
# One dpkg query for all (it is slow per call). With merged /usr, ldd's path
# and the one dpkg recorded may differ by a leading /usr: ask for both.
# shellcheck disable=SC2046
dpkg -S $(tr ' ' '\n' <"$real" | sort -u | sed 's#^/usr##') \
        $(tr ' ' '\n' <"$real" | sort -u | sed 's#^/usr##; s#^#/usr#') >"$owned" 2>/dev/null || true
while read -r lib target; do
  owner=
  for path in "$lib" "$target"; do
    short=${path#/usr}
    owner=$(awk -v a="$short" -v b="/usr$short" '$NF == a || $NF == b { sub(/:.*/, ""); print; exit }' "$owned")
    [ -z "$owner" ] || break
  done
  [ -n "$owner" ] || { echo "runtime-packages.sh: no package holds $lib" >&2; exit 1; }
  echo "$owner" >>"$owners"
done <"$real"
sort -u "$owners"
