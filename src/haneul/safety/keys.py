"""Signing keys for C2PA provenance: a local root CA and a signing certificate, or the user's own.

`haneul keys init` writes, in ~/.config/haneul/keys (or HANEUL_KEYS_DIR, or --dir):

    root-ca.pem   the local root certificate: the trust anchor `haneul verify` uses
    root-ca.key   its private key (mode 0600), kept only to issue a new signing certificate later
    signer.pem    the signing certificate followed by the root (the chain embedded in every manifest)
    signer.key    the signing private key (mode 0600)

The certificates follow what c2pa-rs accepts for claim signing: ECDSA P-256 (ES256); the end-entity
certificate has CA:FALSE, key usage digitalSignature and extended key usage emailProtection. There is no
timestamp server (everything works offline), so a signature is only valid while the certificate is:
validity is long (signer 10 years, root 20 years).

To sign with your own certificate instead, set HANEUL_SIGN_CERT (PEM chain, signing certificate first) and
HANEUL_SIGN_KEY (PEM private key), and HANEUL_SIGN_ALG if it is not ES256 (es384, es512, ps256, ps384,
ps512, ed25519). HANEUL_TRUST_ANCHORS names a PEM file of extra root certificates `haneul verify` trusts.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from haneul.errors import InputError

ROOT_CERT, ROOT_KEY, SIGN_CERT, SIGN_KEY = "root-ca.pem", "root-ca.key", "signer.pem", "signer.key"
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
ROOT_YEARS, SIGNER_YEARS = 20, 10
_announced = False  # "created keys on first use" is said once per process


@dataclass(frozen=True)
class SigningKeys:
    cert_chain: bytes  # PEM, signing certificate first
    private_key: bytes  # PEM
    alg: str  # one of ALGORITHMS
    source: str  # where they came from, for reports: a folder or "HANEUL_SIGN_CERT"


def keys_dir(directory: str | os.PathLike | None = None) -> Path:
    if directory is not None:
        return Path(directory).expanduser()
    return Path(os.environ.get("HANEUL_KEYS_DIR", "~/.config/haneul/keys")).expanduser()


def init_keys(directory: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Create a local root CA and a signing certificate in `directory`. Returns the folder."""
    from cryptography.hazmat.primitives.asymmetric import ec

    folder = keys_dir(directory)
    existing = [name for name in (ROOT_CERT, ROOT_KEY, SIGN_CERT, SIGN_KEY) if (folder / name).exists()]
    if existing and not force:
        raise InputError(
            f"keys already exist in {str(folder)!r} ({', '.join(existing)}); pass --force to replace them"
        )
    folder.mkdir(parents=True, exist_ok=True)
    root_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = _root_certificate(root_key)
    signer = _signer_certificate(signer_key, root, root_key)
    _write(folder / ROOT_KEY, _key_pem(root_key), private=True)
    _write(folder / SIGN_KEY, _key_pem(signer_key), private=True)
    _write(folder / ROOT_CERT, _cert_pem(root))
    _write(folder / SIGN_CERT, _cert_pem(signer) + _cert_pem(root))  # last: its presence means complete
    return folder


def load_signing_keys(create: bool = True) -> SigningKeys:
    """The user's keys (HANEUL_SIGN_CERT/KEY) if set, else haneul's local keys, created on first use."""
    cert_env, key_env = os.environ.get("HANEUL_SIGN_CERT"), os.environ.get("HANEUL_SIGN_KEY")
    alg = os.environ.get("HANEUL_SIGN_ALG", "es256").lower()
    if alg not in ALGORITHMS:
        raise InputError(f"HANEUL_SIGN_ALG={alg!r} is not one of {', '.join(ALGORITHMS)}")
    if cert_env or key_env:
        if not (cert_env and key_env):
            raise InputError("set both HANEUL_SIGN_CERT and HANEUL_SIGN_KEY (PEM files), or neither")
        return SigningKeys(_read(cert_env), _read(key_env), alg, "HANEUL_SIGN_CERT")
    folder = keys_dir()
    if not _complete(folder):
        if not create:
            raise InputError(f"no signing keys in {str(folder)!r}; run `haneul keys init`")
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / ".lock"):  # several server workers may sign their first output at once
            if not _complete(folder):
                init_keys(folder, force=True)
                _announce(folder)
    return SigningKeys(_read(folder / SIGN_CERT), _read(folder / SIGN_KEY), "es256", str(folder))


def _complete(folder: Path) -> bool:
    # init_keys writes signer.pem last, so once it exists the other files do too
    return (folder / SIGN_CERT).is_file() and (folder / SIGN_KEY).is_file()


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:  # no flock (Windows): creation races are then possible but harmless to try
            pass
        yield


def trust_anchors() -> str:
    """PEM roots `haneul verify` trusts: haneul's local root (if any) and HANEUL_TRUST_ANCHORS."""
    pems = []
    root = keys_dir() / ROOT_CERT
    if root.is_file():
        pems.append(root.read_text())
    extra = os.environ.get("HANEUL_TRUST_ANCHORS")
    if extra:
        pems.append(_read(extra).decode())
    return "".join(p if p.endswith("\n") else p + "\n" for p in pems)


# --- certificates ---------------------------------------------------------------------------------------------


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "haneul (local)"),
        ]
    )


def _builder(subject, issuer, public_key, years: int):
    from cryptography import x509

    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))  # tolerate a little clock skew
        .not_valid_after(now + datetime.timedelta(days=365 * years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(digital_signature: bool, cert_sign: bool):
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _root_certificate(key):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    subject = _name("haneul local root CA")
    return (
        _builder(subject, subject, key.public_key(), ROOT_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=False, cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )


def _signer_certificate(key, root, root_key):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    return (
        _builder(_name("haneul signer"), root.subject, key.public_key(), SIGNER_YEARS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )


def _cert_pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _read(path: str | os.PathLike) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as e:
        raise InputError(f"cannot read key file {str(path)!r}: {e.strerror}") from e


def _announce(folder: Path) -> None:
    global _announced
    if not _announced:
        _announced = True
        print(
            f"haneul: created a local C2PA signing key and root certificate in {folder} "
            "(see `haneul keys init --help`; set HANEUL_SIGN_CERT/HANEUL_SIGN_KEY to use your own)",
            file=sys.stderr,
        )
