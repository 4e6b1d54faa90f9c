#!/bin/sh
# certbot's deploy hook: copy the new certificate and key ($RENEWED_LINEAGE) into the folder
# nginx reads (LYO_CERTS_DIR), each replaced in one rename so nginx never sees half a file.
# nginx notices the change and reloads (docker/nginx/certificate-reload.sh).
set -eu
: "${RENEWED_LINEAGE:?certbot sets RENEWED_LINEAGE}"
certs=${LYO_CERTS_DIR:-/certs}
umask 077
for name in privkey.pem fullchain.pem; do  # the key first: nginx reloads on the chain
    cp -L "$RENEWED_LINEAGE/$name" "$certs/.$name.new"
    chmod 600 "$certs/.$name.new"
    mv -f "$certs/.$name.new" "$certs/$name"
done
echo "certbot: installed the certificate of $RENEWED_LINEAGE into $certs"
