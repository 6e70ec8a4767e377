#!/usr/bin/env bash
# Certificates for the security tests, in DIR:
#   the cluster CA, server and worker certificates (deploy/certs/make-certs.sh):
#   worker-w1.pem (CN w1), worker-w2.pem (CN w2), worker-pool-pool.pem (CN
#   pool-*: any worker named pool-...);
#   rogue/: a second CA with its own worker certificate (must be refused);
#   expired-worker.pem/-key.pem: signed by the cluster CA, validity in 2020.
set -euo pipefail
dir=${1:?dir}
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../deploy/certs/make-certs.sh" "$dir" --worker w1 --worker w2 --worker-pool pool- >/dev/null
"$here/../../deploy/certs/make-certs.sh" "$dir/rogue" --worker w1 >/dev/null
cd "$dir"
mkdir -p ca-db && : >ca-db/index.txt && echo 1000 >ca-db/serial
cat >ca-db/openssl.cnf <<CNF
[ca]
default_ca = test
[test]
dir = ca-db
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
CNF
openssl req -newkey rsa:2048 -nodes -keyout expired-worker-key.pem -out expired.csr -subj "/CN=ladder-worker-expired" 2>/dev/null
openssl ca -batch -config ca-db/openssl.cnf -cert ca.pem -keyfile ca-key.pem -in expired.csr -out expired-worker.pem \
  -startdate 20200101000000Z -enddate 20200102000000Z -extensions ext -notext 2>/dev/null
rm -f expired.csr
