"""`fermion tls dev-cert`: a self-signed certificate and key for serving HTTPS on a developer's machine.

The Web SDK fetches its configuration and sends aliases over https whatever it is told, so even a local
Fermion that browsers talk to must serve TLS. Browsers do not trust this certificate until told to.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fermion.cli.output import emit_json

app = typer.Typer(help="TLS for `fermion serve --tls-cert --tls-key`.", no_args_is_help=True)


def make_dev_cert(cert_path: Path, key_path: Path, hosts: list[str], days: int = 365) -> None:
    """Write a self-signed certificate for ``hosts`` (names or IP addresses) and its private key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)


@app.command("dev-cert")
def dev_cert(
    out: Path = typer.Option(Path(".fermion/tls"), "--out", help="Folder of cert.pem and key.pem."),
    host: list[str] = typer.Option(
        ["localhost", "127.0.0.1", "::1"], "--host", help="A name or address the certificate is for (repeat)."
    ),
    days: int = typer.Option(365, "--days", help="Validity."),
    as_json: bool = typer.Option(False, "--json", help="Print the paths as JSON."),
) -> None:
    """Make a self-signed certificate and key for local HTTPS (never for production)."""
    cert, key = out / "cert.pem", out / "key.pem"
    make_dev_cert(cert, key, host, days)
    if as_json:
        emit_json({"cert": str(cert), "key": str(key), "hosts": host})
    else:
        typer.echo(f"Certificate: {cert}\nKey: {key}")
        typer.echo(f"Run: fermion serve --tls-cert {cert} --tls-key {key}")
