"""The benchmark's outputs: `results.json` (every score) and a self-contained `report.html`.

The HTML holds everything inline (PNG images as base64, CSS in the page): a table of mean scores per
dimension, then per video its prompt, scores, a contact sheet (a strip of frames with the detected
objects boxed) and a trajectory plot (the world's expected path of each object dashed, the detected
path solid, in the object's colour). Drawn with OpenCV; no plotting library.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import cv2
import numpy as np

from haneul.eval.benchmark import DIMENSIONS, VideoResult
from haneul.video_io import AtomicPath
from haneul.world import vocab

SHEET_FRAMES = 8
PLOT_SCALE = 2


def png_data_uri(image: np.ndarray) -> str:
    """RGB uint8 image -> data:image/png;base64,..."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _outline(colour: str) -> tuple[int, int, int]:
    """A line colour that shows on top of the object's own colour."""
    r, g, b = vocab.COLOURS.get(colour, (128, 128, 128))
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 128 else (255, 255, 255)


def contact_sheet(result: VideoResult, count: int = SHEET_FRAMES) -> np.ndarray:
    """`count` evenly spaced frames side by side, detected objects boxed, frame numbers on top."""
    frames = result.frames
    idx = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    by_frame: dict[int, list] = {}
    for chain in result.match.chains:
        for d in chain.dets:
            by_frame.setdefault(d.frame, []).append(d)
    tiles = []
    for i in idx:
        tile = frames[i].copy()
        for d in by_frame.get(int(i), []):
            x0, y0, x1, y1 = d.box
            cv2.rectangle(tile, (x0 - 2, y0 - 2), (x1 + 1, y1 + 1), _outline(d.colour), 1)
        cv2.putText(tile, str(i), (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.putText(tile, str(i), (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.pad(tile, ((0, 0), (0, 2), (0, 0)), constant_values=255))
    return np.concatenate(tiles, 1)


def _dashed(image: np.ndarray, pts: np.ndarray, colour, dash: int = 6) -> None:
    """A dashed polyline through pts (N, 2) pixels."""
    for k in range(len(pts) - 1):
        p, q = pts[k], pts[k + 1]
        length = float(np.hypot(*(q - p)))
        steps = max(1, int(length // dash))
        for s in range(0, steps, 2):
            a = p + (q - p) * (s / steps)
            b = p + (q - p) * (min(s + 1, steps) / steps)
            cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), colour, 1, cv2.LINE_AA)


def trajectory_plot(result: VideoResult) -> np.ndarray:
    """Expected (dashed, from the world) and detected (solid, dots per frame) paths of every object over
    a faded first frame; a legend line per object below."""
    exp, match = result.exp, result.match
    h, w = result.frames.shape[1:3]
    s = PLOT_SCALE
    base = cv2.resize(result.frames[0], (w * s, h * s), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    canvas = (base * 0.35 + 255 * 0.65).astype(np.uint8)
    legend = []
    for o in exp.objects:
        colour = vocab.COLOURS[o.colour_shown]
        shown = o.visible > 0.05
        if shown.sum() >= 2:
            _dashed(canvas, o.path[shown] * s, colour)
        chain = match.assigned.get(o.index)
        if chain is not None and len(chain.dets) > 0:
            pts = (chain.xy * s).astype(np.int32)
            cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
            for p in pts:
                cv2.circle(canvas, tuple(int(v) for v in p), 2, _outline(o.colour_shown), -1, cv2.LINE_AA)
        seen = "not found" if chain is None else f"seen {chain.colour} {chain.kind}, {len(chain.dets)} frames"
        legend.append((colour, f"{o.colour_shown} {o.kind_shown} ({o.event}): {seen}"))
    rows = np.full((14 * len(legend) + 4, canvas.shape[1], 3), 255, np.uint8)
    for k, (colour, text) in enumerate(legend):
        cv2.rectangle(rows, (4, 4 + 14 * k), (14, 14 + 14 * k), colour, -1)
        cv2.putText(rows, text, (18, 13 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([canvas, rows], 0)


def _score_cell(value: float | None) -> str:
    if value is None:
        return '<td class="na">-</td>'
    hue = int(120 * value)  # red (0) to green (120)
    return f'<td style="background:hsl({hue},70%,85%)">{value:.2f}</td>'


def video_section(result: VideoResult) -> str:
    """The HTML of one video: heading, score row, contact sheet, trajectories. Needs result.frames."""
    cells = "".join(_score_cell(result.scores.get(d)) for d in (*DIMENSIONS, "overall"))
    heads = "".join(f"<th>{d}</th>" for d in (*DIMENSIONS, "overall"))
    targets = ", ".join(result.targets) or "-"
    return (
        f'<section id="{html.escape(result.id)}"><h3>{html.escape(result.id)}: {html.escape(result.prompt)}</h3>'
        f'<p class="meta">{result.width}x{result.height}, {result.num_frames} frames, seed {result.seed}, '
        f"targets: {html.escape(targets)}, file: {html.escape(str(result.file or '-'))}</p>"
        f"<table><tr>{heads}</tr><tr>{cells}</tr></table>" + _pictures(result) + "</section>"
    )


def _pictures(result: VideoResult) -> str:
    if result.details.get("refused"):
        return f'<p class="meta">refused by the safety checks ({html.escape(result.details["refused"])}): no video</p>'
    return (
        f'<div class="row"><img src="{png_data_uri(contact_sheet(result))}" alt="contact sheet">'
        f'<img src="{png_data_uri(trajectory_plot(result))}" alt="trajectories"></div>'
    )


CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: center; font-size: 0.85em; }
td.na { color: #999; }
img { display: block; margin: 0.3em 0; image-rendering: pixelated; }
.row { display: flex; gap: 10px; align-items: flex-start; flex-wrap: wrap; }
section { border-top: 1px solid #ddd; padding-top: 0.5em; margin-top: 1em; }
.meta { color: #666; font-size: 0.85em; margin: 0; }
"""


def summary_table(summary: dict) -> str:
    heads = "".join(f"<th>{d}</th>" for d in summary)
    means = "".join(_score_cell(v["mean"]) for v in summary.values())
    counts = "".join(f"<td>{v['n']}</td>" for v in summary.values())
    return f"<table><tr><th></th>{heads}</tr><tr><th>mean</th>{means}</tr><tr><th>videos</th>{counts}</tr></table>"


def write_outputs(
    out_dir: str | os.PathLike,
    results: list[VideoResult],
    summary: dict,
    sections: list[str],
    meta: dict,
    with_html: bool = True,
) -> dict:
    """Write results.json (and report.html) into out_dir, atomically; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": "haneul world", **meta, "summary": summary, "videos": [r.to_dict() for r in results]}
    json_path, html_path = out / "results.json", out / "report.html"
    with AtomicPath(json_path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    if not with_html:
        return {"json": str(json_path), "html": None}
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><title>haneul world benchmark</title>'
        f"<style>{CSS}</style></head><body><h1>haneul world benchmark</h1>"
        f'<p class="meta">{html.escape(json.dumps(meta, ensure_ascii=False))}</p>'
        f"<h2>Mean scores</h2>{summary_table(summary)}"
        '<p class="meta">Each dimension is averaged over the videos whose prompt states it; '
        "'-' means no video did. Overall is the mean of a video's applicable dimensions.</p>"
        f"<h2>Videos</h2>{''.join(sections)}</body></html>"
    )
    with AtomicPath(html_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return {"json": str(json_path), "html": str(html_path)}
