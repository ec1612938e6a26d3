#!/bin/sh
# Development only: the compose stack's secrets that are files, made once into
# OUT (a volume shared by the gateways and nginx):
#   OUT/keys/es256.pem, OUT/keys/rs256.pem  the ID token signing keys (PKCS#8),
#       OUT/keys/receipt-es256.pem  the signing receipts' own key ([signing])
#       and OUT/keys/saml.pem, OUT/keys/saml.crt  the SAML IdP's key and
#       certificate, one set for every replica (generate_missing would race);
#   OUT/tls/ca.pem, OUT/tls/provider-sim.{pem,key}  a test CA and the
#       certificate nginx serves for the simulator: the gateway speaks http://
#       only to loopback, so it reaches the simulator over TLS as it would a
#       real provider (tls_ca in the gateway config).
# Files already there are kept. Usage: dev-secrets.sh OUT [UID]
set -eu
out=${1:?usage: dev-secrets.sh OUT [UID]}
owner=${2:-10001}
mkdir -p "$out/keys" "$out/tls"
umask 077
[ -s "$out/keys/es256.pem" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/keys/es256.pem"
[ -s "$out/keys/receipt-es256.pem" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/keys/receipt-es256.pem"
[ -s "$out/keys/rs256.pem" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/keys/rs256.pem" 2>/dev/null
if [ ! -s "$out/keys/saml.pem" ] || [ ! -s "$out/keys/saml.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=munjigi compose dev IdP" \
        -keyout "$out/keys/saml.pem" -out "$out/keys/saml.crt" 2>/dev/null
fi
if [ ! -s "$out/tls/ca.pem" ] || [ ! -s "$out/tls/provider-sim.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=munjigi compose dev CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$out/tls/ca.key" -out "$out/tls/ca.pem" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=provider-sim" -keyout "$out/tls/provider-sim.key" -out "$out/tls/provider-sim.csr" 2>/dev/null
    printf 'subjectAltName=DNS:provider-sim\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' > "$out/tls/ext.cnf"
    openssl x509 -req -in "$out/tls/provider-sim.csr" -CA "$out/tls/ca.pem" -CAkey "$out/tls/ca.key" \
        -CAcreateserial -days 3650 -extfile "$out/tls/ext.cnf" -out "$out/tls/provider-sim.pem" 2>/dev/null
    rm -f "$out/tls/provider-sim.csr" "$out/tls/ext.cnf" "$out/tls/ca.key" "$out/tls/ca.srl"
fi
chmod 0644 "$out/tls/ca.pem" "$out/tls/provider-sim.pem"
# The gateways read the keys as uid 10001 (the image's user); nginx's workers
# do not read the TLS key (the master reads it as root).
if [ "$(id -u)" -eq 0 ]; then chown -R "$owner:$owner" "$out/keys"; fi
echo "dev secrets ready in $out"
