"""Write a self-signed certificate for the first start, before the ACME one exists:
python3 placeholder.py <certificates folder> <host name>. Valid two days; certbot replaces it.
Uses `cryptography`, which certbot itself depends on."""

import datetime as dt
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def main(folder: str, host: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    os.umask(0o077)
    (target / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (target / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    print(f"certbot: wrote a self-signed placeholder for {host} into {folder}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
