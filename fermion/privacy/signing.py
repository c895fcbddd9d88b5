"""OpenDSR signatures: Fermion's RSA key and self-signed certificate, signing bodies, verifying them.

The key pair and certificate are generated once into ``<data dir>/opendsr/`` (a directory renamed into
place, so that two processes starting together agree on one pair). The subject common name is the
processor domain; receivers check it against the ``X-OpenDSR-Processor-Domain`` header and verify the
``X-OpenDSR-Signature`` header (base64 RSA PKCS#1 v1.5 over SHA-256 of the raw body) with its public key.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

_KEY = "processor.key"
_CERT = "processor.pem"


class ProcessorSigner:
    """Signs OpenDSR bodies with the processor key of one data dir."""

    def __init__(self, data_dir: Path, domain: str) -> None:
        self.domain = domain
        folder = data_dir / "opendsr"
        if not (folder / _CERT).exists():
            _generate_into(folder, domain)
        self._key = serialization.load_pem_private_key((folder / _KEY).read_bytes(), password=None)
        self.certificate_pem = (folder / _CERT).read_bytes()

    def sign(self, body: bytes) -> str:
        """The base64 SHA256-with-RSA signature of ``body``."""
        assert isinstance(self._key, rsa.RSAPrivateKey)
        signature = self._key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def headers(self, body: bytes, prefix: str = "OpenDSR") -> dict[str, str]:
        """The processor domain and signature headers of ``body`` (``prefix`` ``OpenGDPR`` for v1)."""
        return {
            f"X-{prefix}-Processor-Domain": self.domain,
            f"X-{prefix}-Signature": self.sign(body),
        }


def verify_signature(
    certificate_pem: bytes, domain: str, body: bytes, signature: str, now: dt.datetime
) -> bool:
    """What a controller checks: the certificate names ``domain``, is valid at ``now`` and signed ``body``."""
    cert = x509.load_pem_x509_certificate(certificate_pem)
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [domain]:
        return False
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return False
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    try:
        public.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _generate_into(folder: Path, domain: str) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".opendsr-", dir=folder.parent))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path = staging / _KEY
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    (staging / _CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    try:
        os.rename(staging, folder)
    except OSError:  # another process put its pair in place first: use that one
        shutil.rmtree(staging, ignore_errors=True)
