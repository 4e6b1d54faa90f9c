#!/bin/sh
# nginx reloads itself when its certificate changes (certbot's renewals, docker/acme/), without
# a hand on the host and without giving the certbot container the Docker socket. Mounted into
# the nginx image's /docker-entrypoint.d/, which runs it before nginx starts: it starts the
# watcher in the background and returns. `certificate-reload.sh watch` is the watcher itself.
# LYO_NGINX_CERT (the certificate file), LYO_NGINX_RELOAD_CHECK_SECONDS (60), LYO_NGINX_ARGS
# (extra nginx arguments, e.g. -p/-c for a non-default prefix).
set -eu

if [ "${1:-}" != "watch" ]; then
    "$0" watch &  # its messages go to the container log with nginx's
    exit 0
fi

cert=${LYO_NGINX_CERT:-/etc/nginx/certs/fullchain.pem}
every=${LYO_NGINX_RELOAD_CHECK_SECONDS:-60}
fingerprint() { cksum "$cert" 2>/dev/null || echo missing; }
seen=$(fingerprint)
while sleep "$every"; do
    now=$(fingerprint)
    if [ "$now" != "$seen" ]; then
        # shellcheck disable=SC2086
        if nginx ${LYO_NGINX_ARGS:-} -t -q && nginx ${LYO_NGINX_ARGS:-} -s reload; then
            echo "nginx: certificate changed, reloaded" >&2
            seen=$now
        fi
    fi
done
