"""Certificates without hands, on real processes: the compose "certbot" service's script
(docker/acme/certbot.sh) against Pebble, a real ACME server for tests (Debian's `pebble`, with
`pebble-challtestsrv` answering DNS: every name is 127.0.0.1), and nginx with the repository's
virtual hosts serving the HTTP-01 challenge from the shared webroot. From an empty
certificates folder: a placeholder lets nginx start, certbot obtains the certificate, its
deploy hook installs it, nginx's watcher (docker/nginx/certificate-reload.sh) reloads nginx,
which then serves the ACME certificate; the renewal timer runs `certbot renew`.

Loopback differences only: ports, the webroot's path, Pebble's directory URL (with its own CA
trusted by certbot through REQUESTS_CA_BUNDLE) and short intervals.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.deploy.conftest import ROOT
from tests.deploy.stack import Processes, nginx_binary, nginx_prefix, self_signed_certificate
from tests.processes import Process, free_port, wait_until

DOMAIN = "lyo.test"
ACME = ROOT / "docker" / "acme"


def _served_certificate(port: int) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=DOMAIN) as tls,
    ):
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def _issuer(certificate: x509.Certificate) -> str:
    return certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def _tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else "")
    assert found, f"{name} is not installed (.ci/run installs Debian's pebble and certbot)"
    return found


def test_certbot_obtains_installs_and_nginx_reloads_without_hands(tmp_path):
    processes = Processes()
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    http_port, https_port = free_port(), free_port()
    dns_port, pebble_port, pebble_management = free_port(), free_port(), free_port()
    prefix = nginx_prefix(
        web_ports=[free_port()], http_port=http_port, https_port=https_port, server_names=DOMAIN
    )
    # Inside nginx's prefix (world-traversable): its workers run as nobody under root.
    webroot = prefix / "acme"
    webroot.mkdir(mode=0o755)
    vhost = prefix / "conf.d" / "lyo.conf"
    vhost.write_text(vhost.read_text().replace("root /var/www/acme;", f"root {webroot};"))
    certs = prefix / "certs"
    for name in ("fullchain.pem", "privkey.pem"):
        (certs / name).unlink()  # a first start: no certificate at all
    nginx_args = f"-p {prefix}/ -c {prefix / 'nginx.conf'} -e {prefix / 'logs' / 'error.log'}"
    try:
        processes.add(
            Process.start(
                "challtestsrv",
                [
                    _tool("pebble-challtestsrv"),
                    "-dns01",
                    f"127.0.0.1:{dns_port}",
                    "-http01",
                    "",
                    "-https01",
                    "",
                    "-tlsalpn01",
                    "",
                    "-management",
                    f"127.0.0.1:{free_port()}",
                    "-defaultIPv4",
                    "127.0.0.1",
                    "-defaultIPv6",
                    "",
                ],
                log_dir=tmp_path,
                env=env,
            )
        )
        pebble_tls = self_signed_certificate(tmp_path / "pebble-tls")
        config = tmp_path / "pebble.json"
        config.write_text(
            json.dumps(
                {
                    "pebble": {
                        "listenAddress": f"127.0.0.1:{pebble_port}",
                        "managementListenAddress": f"127.0.0.1:{pebble_management}",
                        "certificate": str(pebble_tls),
                        "privateKey": str(pebble_tls.parent / "privkey.pem"),
                        "httpPort": http_port,  # HTTP-01 is checked on nginx's port
                        "tlsPort": free_port(),
                        "ocspResponderURL": "",
                        "externalAccountBindingRequired": False,
                    }
                }
            )
        )
        pebble = processes.add(
            Process.start(
                "pebble",
                [_tool("pebble"), "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"],
                log_dir=tmp_path,
                env=dict(env, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0"),
            )
        )
        wait_until(lambda: "ACME directory available" in pebble.log(), timeout=30, what="pebble")

        state = tmp_path / "letsencrypt"
        certbot = processes.add(
            Process.start(
                "certbot",
                ["sh", str(ACME / "certbot.sh")],
                log_dir=tmp_path,
                env=dict(
                    env,
                    PATH=f"{Path(_tool('certbot')).parent}:{env['PATH']}",
                    LYO_ACME_DOMAINS=DOMAIN,
                    LYO_ACME_EMAIL="ops@lyo.example.com",
                    LYO_ACME_SERVER=f"https://127.0.0.1:{pebble_port}/dir",
                    LYO_CERTS_DIR=str(certs),
                    LYO_ACME_WEBROOT_DIR=str(webroot),
                    LYO_ACME_RETRY_SECONDS="1",
                    LYO_ACME_RENEW_SECONDS="2",
                    LYO_CERTBOT_EXTRA_ARGS=(
                        f"--config-dir {state}/config --work-dir {state}/work "
                        f"--logs-dir {state}/logs"
                    ),
                    REQUESTS_CA_BUNDLE=str(pebble_tls),
                ),
            )
        )
        # The placeholder comes first, so nginx can start on a folder that had nothing.
        wait_until(lambda: (certs / "fullchain.pem").exists(), timeout=30, what=certbot.log())
        assert "self-signed placeholder" in certbot.log()
        nginx = processes.add(
            Process.start(
                "nginx",
                [nginx_binary(), *nginx_args.split()],
                log_dir=tmp_path,
                env=env,
            )
        )
        wait_until(
            lambda: _served_certificate(https_port),
            timeout=30,
            what=f"nginx\n{nginx.log()}",
        )
        assert _issuer(_served_certificate(https_port)) == DOMAIN  # the placeholder
        processes.add(
            Process.start(
                "reload-watcher",
                ["sh", str(ROOT / "docker" / "nginx" / "certificate-reload.sh"), "watch"],
                log_dir=tmp_path,
                env=dict(
                    env,
                    LYO_NGINX_CERT=str(certs / "fullchain.pem"),
                    LYO_NGINX_RELOAD_CHECK_SECONDS="1",
                    LYO_NGINX_ARGS=nginx_args,
                ),
            )
        )

        # certbot passes the challenge through nginx's webroot, installs, nginx reloads.
        wait_until(
            lambda: "Pebble" in _issuer(_served_certificate(https_port)),
            timeout=120,
            what=f"the ACME certificate\n{certbot.log()}\n{pebble.log()}",
        )
        served = _served_certificate(https_port)
        names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [DOMAIN]
        assert "installed the certificate" in certbot.log()
        assert oct((certs / "privkey.pem").stat().st_mode & 0o777) == "0o600"

        # The renewal timer runs `certbot renew` (not due yet: nothing renewed, nothing broken).
        wait_until(
            lambda: "not yet due for renewal" in certbot.log(), timeout=60, what=certbot.log()
        )
        assert nginx.alive
    finally:
        processes.stop_all()
        subprocess.run(["rm", "-rf", str(prefix)], check=False)
