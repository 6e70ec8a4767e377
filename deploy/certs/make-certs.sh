#!/usr/bin/env bash
# Makes a cluster CA and certificates for Ladder with the openssl CLI.
#   deploy/certs/make-certs.sh DIR [--host NAME_OR_IP]... [--worker NAME]...
#                              [--worker-pool PREFIX]... [--days N]
# Writes into DIR (created, mode 700):
#   ca.pem, ca-key.pem              the cluster CA (keep ca-key.pem offline)
#   server.pem, server-key.pem      the coordinator's certificate; SANs are
#                                   localhost, 127.0.0.1, ::1 and every --host
#   worker-NAME.pem, -key.pem       a client certificate per --worker, CN=NAME:
#                                   the coordinator lets it act only as the
#                                   worker named NAME (ladder-worker --name)
#   worker-pool-PREFIX.pem, -key.pem  a pool certificate per --worker-pool,
#                                   CN=PREFIX*: any worker whose name starts
#                                   with PREFIX (--worker-pool '' : any name,
#                                   file worker-pool.pem); its holders can act
#                                   as each other
# With neither, one --worker named "worker". Existing CA files are reused, so
# running it again adds hosts or workers under the same CA.
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR [--host H]... [--worker NAME]... [--worker-pool PREFIX]... [--days N]}
shift
hosts=()
workers=()
pools=()
days=825
while [ $# -gt 0 ]; do
  case "$1" in
    --host) hosts+=("$2"); shift 2 ;;
    --worker)
      case "$2" in
        ""|*"*"*|*/*) echo "make-certs.sh: --worker: a worker name, without '*' or '/', got '$2'" >&2; exit 2 ;;
      esac
      workers+=("$2"); shift 2 ;;
    --worker-pool)
      case "$2" in
        *"*"*|*/*) echo "make-certs.sh: --worker-pool: a name prefix, without '*' or '/', got '$2'" >&2; exit 2 ;;
      esac
      pools+=("$2"); shift 2 ;;
    --days) days=$2; shift 2 ;;
    *) echo "make-certs.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#workers[@]} -eq 0 ] && [ ${#pools[@]} -eq 0 ] && workers=(worker)
umask 077
mkdir -p "$dir"
cd "$dir"

if [ ! -f ca.pem ] || [ ! -f ca-key.pem ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -keyout ca-key.pem -out ca.pem -days "$days" \
    -subj "/CN=Ladder cluster CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for h in "${hosts[@]}"; do
  if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then san+=",IP:$h"; else san+=",DNS:$h"; fi
done

sign() {  # name cn extensions
  local name=$1 cn=$2 ext=$3
  openssl req -newkey rsa:2048 -nodes -keyout "$name-key.pem" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%b' "$ext" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out "$name.pem" \
    -days "$days" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

sign server "ladder-coordinator" \
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=$san\n"
client_ext="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
# The CN is the worker's identity: the coordinator checks it on every Agent call.
for w in "${workers[@]}"; do
  sign "worker-$w" "$w" "$client_ext"
done
pool_files=()
for p in "${pools[@]}"; do
  f=worker-pool; [ -n "${p%-}" ] && f+="-${p%-}"
  sign "$f" "$p*" "$client_ext"
  pool_files+=("$f.pem (names $p*)")
done
chmod 600 ./*-key.pem
chmod 644 ca.pem server.pem worker-*.pem
echo "certificates in $dir: CA ca.pem, server server.pem (SAN $san), workers: ${workers[*]} ${pool_files[*]}"
