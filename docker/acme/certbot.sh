#!/bin/sh
# The compose "certbot" service (profile "acme"): certificates without hands.
#   1. No certificate yet in the certificates folder: write a self-signed placeholder valid for
#      two days, so nginx can start and serve the ACME challenge (placeholder.py).
#   2. Obtain the certificate by HTTP-01 through the webroot nginx serves at
#      /.well-known/acme-challenge/, retrying every LYO_ACME_RETRY_SECONDS until it works.
#   3. Renew on a timer: `certbot renew` every LYO_ACME_RENEW_SECONDS (12 h, as certbot
#      advises); it renews 30 days before expiry.
# Each new certificate is copied next to nginx by install-certificate.sh (certbot's deploy
# hook); nginx reloads itself when it changes (docker/nginx/certificate-reload.sh).
# Settings: LYO_ACME_DOMAINS (comma-separated, the first names the certificate), LYO_ACME_EMAIL,
# LYO_ACME_SERVER (ACME directory; default Let's Encrypt production), LYO_CERTBOT_EXTRA_ARGS.
set -eu

domains=${LYO_ACME_DOMAINS:-}
email=${LYO_ACME_EMAIL:-}
if [ -z "$domains" ] || [ -z "$email" ]; then
    echo "certbot: set LYO_ACME_DOMAINS and LYO_ACME_EMAIL in .env.production" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
export LYO_CERTS_DIR="${LYO_CERTS_DIR:-/certs}"
webroot=${LYO_ACME_WEBROOT_DIR:-/var/www/acme}
retry=${LYO_ACME_RETRY_SECONDS:-300}
renew_every=${LYO_ACME_RENEW_SECONDS:-43200}
first_domain=${domains%%,*}

if [ ! -s "$LYO_CERTS_DIR/fullchain.pem" ] || [ ! -s "$LYO_CERTS_DIR/privkey.pem" ]; then
    python3 "$here/placeholder.py" "$LYO_CERTS_DIR" "$first_domain"
fi

# Word splitting is wanted: extra arguments (e.g. "--key-type ecdsa") and one -d per domain.
# shellcheck disable=SC2086
set -- ${LYO_CERTBOT_EXTRA_ARGS:-} --non-interactive --agree-tos --email "$email" \
    ${LYO_ACME_SERVER:+--server "$LYO_ACME_SERVER"}

until certbot certonly "$@" --webroot -w "$webroot" --cert-name lyo --domains "$domains" \
    --keep-until-expiring --deploy-hook "$here/install-certificate.sh"; do
    echo "certbot: no certificate yet, trying again in ${retry}s" >&2
    sleep "$retry"
done
# Already valid (kept, so the deploy hook did not run): make sure nginx has this one, not a
# placeholder left in a fresh certificates folder.
live=$(certbot certificates "$@" --cert-name lyo 2>/dev/null | sed -n 's/^ *Certificate Path: \(.*\)\/fullchain.pem$/\1/p' | head -n1)
if [ -n "$live" ] && ! cmp -s "$live/fullchain.pem" "$LYO_CERTS_DIR/fullchain.pem"; then
    RENEWED_LINEAGE=$live "$here/install-certificate.sh"
fi

while :; do
    sleep "$renew_every"
    certbot renew "$@" --deploy-hook "$here/install-certificate.sh" \
        || echo "certbot: renewal failed, trying again in ${renew_every}s" >&2
done
