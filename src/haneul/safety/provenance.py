"""C2PA provenance (https://c2pa.org, via the c2pa-python bindings of c2pa-rs): sign and read manifests.

Every MP4 and PNG haneul writes carries a manifest signed with the keys of `haneul.safety.keys`:

- claim generator: haneul and its version;
- `c2pa.actions`: one `c2pa.created` action with digitalSourceType trainedAlgorithmicMedia, naming the model
  and its version; for edits and extensions it points at the input media, attached as ingredients with
  the relationship `inputTo` (C2PA 2.1's relationship for inputs of a generative model);
- `org.haneul.generation`: the generation id, model, SHA-256 of the prompt and of the expanded caption (never
  the text itself), seed, size, frame rate and the invisible watermark's payload.

Signing must be the last step: any remux or re-encode strips or invalidates the manifest. The manifest
binds the file's bytes (a BMFF hash for MP4, a data hash for PNG), so changing one byte of the video data
makes validation fail. Verification uses haneul's local root (and HANEUL_TRUST_ANCHORS) as trust anchors.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from haneul import __version__
from haneul.errors import InputError
from haneul.safety.keys import SigningKeys, load_signing_keys, trust_anchors

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
HANEUL_ASSERTION = "org.haneul.generation"
MIME_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


def _c2pa():
    try:
        import c2pa
    except ImportError as e:  # a base dependency, so only a broken or partial install gets here
        raise RuntimeError(
            "C2PA signing needs c2pa-python: pip install c2pa-python==0.38.1 (or save with sign=False)"
        ) from e
    return c2pa


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def mime_type(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in MIME_TYPES:
        raise InputError(
            f"{str(path)!r}: C2PA supports {', '.join(MIME_TYPES)} here, not {suffix or 'no suffix'!r}"
        )
    return MIME_TYPES[suffix]


def build_manifest(
    title: str, generation: dict, model: str, model_version: str, ingredient_ids: list[str]
) -> dict:
    """The manifest definition: `generation` becomes the org.haneul.generation assertion."""
    created = {
        "action": "c2pa.created",
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": {"name": "haneul", "version": __version__},
        "parameters": {"model": model, "model_version": model_version},
    }
    if ingredient_ids:
        created["parameters"]["ingredientIds"] = ingredient_ids
    return {
        "claim_generator_info": [{"name": "haneul", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [created]}},
            {"label": HANEUL_ASSERTION, "data": generation},
        ],
    }


def sign_file(
    source: str | os.PathLike,
    dest: str | os.PathLike,
    manifest: dict,
    ingredients: list[str | os.PathLike] = (),
    keys: SigningKeys | None = None,
) -> dict:
    """Sign `source` into `dest` (a different path). Returns what was signed with what."""
    c2pa = _c2pa()
    keys = keys or load_signing_keys()
    fmt = mime_type(source)
    info = c2pa.C2paSignerInfo(keys.alg.encode(), keys.cert_chain, keys.private_key, None)
    context = c2pa.Context.from_dict(
        {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_after_sign": False}}
    )
    with c2pa.Builder(manifest, context=context) as builder:
        for i, path in enumerate(ingredients):
            with open(path, "rb") as stream:
                ingredient = {"title": Path(path).name, "relationship": "inputTo", "label": f"input{i}"}
                builder.add_ingredient(ingredient, mime_type(path), stream)
        with c2pa.Signer.from_info(info) as signer, open(source, "rb") as src, open(dest, "w+b") as dst:
            builder.sign(signer, fmt, src, dst)
    return {
        "signed": True,
        "alg": keys.alg,
        "keys": keys.source,
        "format": fmt,
        "ingredients": len(ingredients),
    }


def ingredient_ids(ingredients: list[str | os.PathLike]) -> list[str]:
    return [f"input{i}" for i in range(len(ingredients))]


def read_manifest(path: str | os.PathLike) -> dict:
    """The active manifest of a file and its validation with haneul's trust anchors.

    validation_state is c2pa's: "Trusted" (valid and signed by a trusted certificate), "Valid" (intact but
    the signer is not trusted), "Invalid" (tampered or broken), or None when there is no manifest.
    """
    c2pa = _c2pa()
    settings = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    anchors = trust_anchors()
    if anchors:
        settings["trust"] = {"user_anchors": anchors}
    context = c2pa.Context.from_dict(settings)
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(mime_type(path), stream, None, context)
            if reader is None:
                return {"present": False, "validation_state": None, "failures": [], "manifest": None}
            with reader:
                manifest = reader.get_active_manifest()
                state = reader.get_validation_state()
                results = reader.get_validation_results() or {}
    except OSError as e:
        raise InputError(f"cannot read {str(path)!r}: {e.strerror}") from e
    except c2pa.C2paError as e:  # a manifest store that cannot even be parsed
        return {
            "present": True,
            "validation_state": "Invalid",
            "failures": [{"code": "unreadable", "explanation": str(e)}],
            "manifest": None,
        }
    failures = [
        {"code": f.get("code"), "explanation": f.get("explanation")}
        for f in (results.get("activeManifest") or {}).get("failure", [])
    ]
    return {"present": True, "validation_state": state, "failures": failures, "manifest": manifest}


def summarize(manifest: dict | None) -> dict:
    """The fields a person wants from a haneul manifest: generator, signer, actions, generation data."""
    if not manifest:
        return {}
    assertions = {a.get("label"): a.get("data") for a in manifest.get("assertions", [])}
    actions = (assertions.get("c2pa.actions.v2") or assertions.get("c2pa.actions") or {}).get("actions", [])
    generator = (manifest.get("claim_generator_info") or [{}])[0]
    return {
        "claim_generator": f"{generator.get('name', '?')} {generator.get('version', '')}".strip(),
        "signer": manifest.get("signature_info", {}),
        "actions": [
            {k: a.get(k) for k in ("action", "digitalSourceType", "parameters") if k in a} for a in actions
        ],
        "generation": assertions.get(HANEUL_ASSERTION),
        "ingredients": [
            {"title": i.get("title"), "relationship": i.get("relationship")}
            for i in manifest.get("ingredients", [])
        ],
    }
