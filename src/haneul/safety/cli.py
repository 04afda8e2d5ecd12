"""`haneul verify FILE` and `haneul keys init`.

`haneul verify` exit codes: 0 verified (a C2PA manifest that validates and chains to a trusted root: haneul's
local root or HANEUL_TRUST_ANCHORS), 1 not verified (no manifest, a tampered or invalid one, or an untrusted
signer; the watermark result is still printed), 2 bad input (missing or unreadable file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from haneul.errors import InputError

app = typer.Typer()
keys_app = typer.Typer(help="Signing keys for C2PA provenance.", no_args_is_help=True)

EXIT_VERIFIED, EXIT_NOT_VERIFIED, EXIT_INPUT = 0, 1, 2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
WATERMARK_FRAMES = (
    96  # the mark is the same in every frame: the first 96 are plenty, and memory stays bounded
)


def verify_file(path: str | Path) -> dict:
    """Check a file's C2PA manifest and look for haneul's invisible watermark. Returns a JSON-able report."""
    from haneul.safety import provenance, watermark
    from haneul.video_io import read_image, read_video

    path = Path(path)
    if not path.is_file():
        raise InputError(f"file {str(path)!r} does not exist")
    frames = (
        read_image(path)[None]
        if path.suffix.lower() in IMAGE_SUFFIXES
        else read_video(path, max_frames=WATERMARK_FRAMES)[0]
    )
    mark = watermark.detect(frames).to_dict()
    try:
        c2pa = provenance.read_manifest(path)
    except InputError:  # a suffix C2PA does not handle: only the watermark can speak
        c2pa = {"present": False, "validation_state": None, "failures": [], "manifest": None}
    except RuntimeError as e:  # c2pa-python missing
        c2pa = {
            "present": None,
            "validation_state": None,
            "failures": [{"code": "not_checked", "explanation": str(e)}],
            "manifest": None,
        }
    summary = provenance.summarize(c2pa["manifest"])
    generation = summary.get("generation") or {}
    if mark["payload_valid"] and generation.get("generation_id"):
        mark["matches_manifest"] = generation["generation_id"].startswith(mark["generation_id_prefix"])
    verified = c2pa["validation_state"] == "Trusted"
    return {
        "file": str(path),
        "verified": verified,
        "c2pa": {
            "present": c2pa["present"],
            "validation_state": c2pa["validation_state"],
            "trusted": verified,
            "failures": c2pa["failures"],
            "summary": summary,
            "manifest": c2pa["manifest"],
        },
        "watermark": mark,
    }


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="An MP4 or PNG (or any video or image FFmpeg/Pillow reads).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole report, manifest included, as JSON.")
    ] = False,
) -> None:
    """Check a file's C2PA manifest (signature, integrity, trust) and look for haneul's invisible watermark.

    Exit code 0: verified; 1: not verified (no manifest, tampered, or untrusted signer); 2: bad input.
    """
    try:
        report = verify_file(file)
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(EXIT_INPUT) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_report(report)
    raise typer.Exit(EXIT_VERIFIED if report["verified"] else EXIT_NOT_VERIFIED)


def _print_report(report: dict) -> None:
    c2pa, mark = report["c2pa"], report["watermark"]
    typer.echo(f"file: {report['file']}")
    if c2pa["present"] is None:
        typer.echo(f"C2PA: not checked ({c2pa['failures'][0]['explanation']})")
    elif not c2pa["present"]:
        typer.echo("C2PA: no manifest")
    else:
        typer.echo(
            f"C2PA: {c2pa['validation_state']}" + (" (signed by a trusted root)" if c2pa["trusted"] else "")
        )
        for failure in c2pa["failures"]:
            typer.echo(f"  failure: {failure['code']}: {failure['explanation']}")
        s = c2pa["summary"]
        if s:
            typer.echo(f"  claim generator: {s['claim_generator']}")
            signer = s["signer"]
            typer.echo(
                f"  signer: {signer.get('common_name')} (issuer {signer.get('issuer')}, {signer.get('alg')})"
            )
            for action in s["actions"]:
                params = action.get("parameters") or {}
                model = f"{params.get('model')} {params.get('model_version', '')}".strip()
                typer.echo(
                    f"  action: {action.get('action')} ({action.get('digitalSourceType', '').rsplit('/', 1)[-1]}; model {model})"
                )
            for key, value in (s["generation"] or {}).items():
                typer.echo(f"  {key}: {value}")
            for ingredient in s["ingredients"]:
                typer.echo(f"  ingredient: {ingredient['title']} ({ingredient['relationship']})")
    if mark["detected"]:
        payload = mark["generation_id_prefix"] or "unreadable"
        typer.echo(
            f"watermark: detected (generation id {payload}, score {mark['score']}, confidence {mark['confidence']:.4f},"
            f" scale {mark['scale']})"
        )
        if "matches_manifest" in mark:
            typer.echo(
                f"  matches the manifest's generation id: {'yes' if mark['matches_manifest'] else 'NO'}"
            )
    else:
        typer.echo(f"watermark: not detected (score {mark['score']})")
    typer.echo("verified" if report["verified"] else "NOT verified")


@keys_app.command("init")
def keys_init(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to write the keys (default: $HANEUL_KEYS_DIR or ~/.config/haneul/keys)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing keys (files signed before stop verifying).")
    ] = False,
) -> None:
    """Create a local root CA and a C2PA signing certificate (ES256, CA:FALSE, digitalSignature, emailProtection).

    To sign with your own certificate instead, set HANEUL_SIGN_CERT and HANEUL_SIGN_KEY (PEM files), and
    HANEUL_TRUST_ANCHORS to a PEM file of the roots `haneul verify` should trust.
    """
    from haneul.safety.keys import ROOT_CERT, SIGN_CERT, init_keys

    try:
        folder = init_keys(directory, force=force)
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(EXIT_INPUT) from None
    typer.echo(f"wrote {folder / SIGN_CERT} (signing certificate) and {folder / ROOT_CERT} (trust anchor)")
