"""C2PA signing and reading (haneul.safety.provenance) with keys from haneul.safety.keys."""

import os

import numpy as np
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from haneul import __version__
from haneul.errors import InputError
from haneul.safety import keys, provenance
from haneul.video_io import write_image, write_video

PROMPT = "a red ball bounces on green grass"


@pytest.fixture
def keys_dir(tmp_path, monkeypatch):
    folder = tmp_path / "keys"
    monkeypatch.setenv("HANEUL_KEYS_DIR", str(folder))
    for name in ("HANEUL_SIGN_CERT", "HANEUL_SIGN_KEY", "HANEUL_SIGN_ALG", "HANEUL_TRUST_ANCHORS"):
        monkeypatch.delenv(name, raising=False)
    keys.init_keys()
    return folder


def frames(n: int = 9) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)


def signed_file(tmp_path, suffix: str = ".mp4", ingredients=()) -> os.PathLike:
    source, dest = tmp_path / f"plain{suffix}", tmp_path / f"signed{suffix}"
    if suffix == ".png":
        write_image(source, frames(1)[0])
    else:
        write_video(source, frames(), fps=8)
    generation = {"generation_id": "ab" * 16, "prompt_sha256": provenance.sha256_text(PROMPT), "model": "m"}
    manifest = provenance.build_manifest(
        dest.name, generation, "haneul-world-s", "0.3", provenance.ingredient_ids(ingredients)
    )
    info = provenance.sign_file(source, dest, manifest, ingredients=ingredients)
    assert info["signed"] and info["alg"] == "es256"
    return dest


def test_keys_have_the_extensions_c2pa_rs_accepts(keys_dir):
    signer, root = x509.load_pem_x509_certificates((keys_dir / keys.SIGN_CERT).read_bytes())
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert signer.issuer == root.subject
    assert (signer.not_valid_after_utc - signer.not_valid_before_utc).days > 365 * 9  # no timestamp server
    assert (keys_dir / keys.SIGN_KEY).stat().st_mode & 0o077 == 0
    with pytest.raises(InputError, match="--force"):
        keys.init_keys()


def test_mp4_manifest_has_the_required_fields_and_is_trusted(keys_dir, tmp_path):
    path = signed_file(tmp_path)
    result = provenance.read_manifest(path)
    assert result["present"] and result["validation_state"] == "Trusted", result["failures"]
    summary = provenance.summarize(result["manifest"])
    assert summary["claim_generator"] == f"haneul {__version__}"
    (action,) = summary["actions"]
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == provenance.TRAINED_ALGORITHMIC_MEDIA
    assert (
        action["parameters"]["model"] == "haneul-world-s" and action["parameters"]["model_version"] == "0.3"
    )
    assert summary["generation"]["prompt_sha256"] == provenance.sha256_text(PROMPT)
    assert PROMPT.encode() not in path.read_bytes()  # only the hash of the prompt is in the file


def test_png_is_signed(keys_dir, tmp_path):
    result = provenance.read_manifest(signed_file(tmp_path, ".png"))
    assert result["validation_state"] == "Trusted", result["failures"]


def test_one_byte_of_video_data_changed_is_invalid(keys_dir, tmp_path):
    path = signed_file(tmp_path)
    data = bytearray(path.read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    data[mdat + 100] ^= 0x01
    path.write_bytes(bytes(data))
    result = provenance.read_manifest(path)
    assert result["validation_state"] == "Invalid"
    assert any("mismatch" in f["code"] for f in result["failures"])


def test_unsigned_file_has_no_manifest(keys_dir, tmp_path):
    write_video(tmp_path / "plain.mp4", frames(), fps=8)
    assert provenance.read_manifest(tmp_path / "plain.mp4")["present"] is False


def test_another_root_is_not_trusted(keys_dir, tmp_path, monkeypatch):
    path = signed_file(tmp_path)
    monkeypatch.setenv("HANEUL_KEYS_DIR", str(tmp_path / "other"))
    keys.init_keys()
    assert provenance.read_manifest(path)["validation_state"] == "Valid"  # intact, but not our root


def test_user_supplied_certificate(keys_dir, tmp_path, monkeypatch):
    own = keys.init_keys(tmp_path / "own")
    monkeypatch.setenv("HANEUL_SIGN_CERT", str(own / keys.SIGN_CERT))
    monkeypatch.setenv("HANEUL_SIGN_KEY", str(own / keys.SIGN_KEY))
    assert keys.load_signing_keys().source == "HANEUL_SIGN_CERT"
    path = signed_file(tmp_path)
    assert provenance.read_manifest(path)["validation_state"] == "Valid"
    monkeypatch.setenv("HANEUL_TRUST_ANCHORS", str(own / keys.ROOT_CERT))
    assert provenance.read_manifest(path)["validation_state"] == "Trusted"


def test_half_configured_user_keys_are_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("HANEUL_SIGN_CERT", str(tmp_path / "cert.pem"))
    monkeypatch.delenv("HANEUL_SIGN_KEY", raising=False)
    with pytest.raises(InputError, match="HANEUL_SIGN_KEY"):
        keys.load_signing_keys()


def test_keys_are_created_on_first_use(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HANEUL_KEYS_DIR", str(tmp_path / "fresh"))
    monkeypatch.setattr(keys, "_announced", False)
    first = keys.load_signing_keys()
    assert (tmp_path / "fresh" / keys.SIGN_CERT).is_file()
    assert "created a local C2PA signing key" in capsys.readouterr().err
    assert keys.load_signing_keys().cert_chain == first.cert_chain  # reused, not recreated


def test_ingredient_of_an_edit_is_recorded(keys_dir, tmp_path):
    source = signed_file(tmp_path)
    edited_dir = tmp_path / "edit"
    edited_dir.mkdir()
    result = provenance.read_manifest(signed_file(edited_dir, ingredients=[source]))
    assert result["validation_state"] == "Trusted", result["failures"]
    summary = provenance.summarize(result["manifest"])
    assert summary["ingredients"] == [{"title": "signed.mp4", "relationship": "inputTo"}]
    assert summary["actions"][0]["parameters"]["ingredients"]  # the created action points at it
