"""The camera seen from the frames, and flicker: pan and zoom between frames measured on the backdrop,
and how far backdrop pixels jump away from their neighbours in time once that motion is taken out.

Used by the direction score (motion judged in the scene, not on screen) and by temporal consistency.
"""

from __future__ import annotations

import cv2
import numpy as np


def camera_moves(frames: np.ndarray, detections: list[list] | None = None) -> list[np.ndarray]:
    """The 2x3 warp from each frame to the next (pan and zoom of the backdrop), F - 1 of them.

    Detected objects are blanked out (filled with the frame's median grey) first: the camera moves the
    backdrop, and an object's own motion must not pass for a pan."""
    grey = _grey(frames)
    keep = np.ones(grey.shape, bool)
    keep[:, :4], keep[:, -4:], keep[:, :, :4], keep[:, :, -4:] = False, False, False, False
    for t, dets in enumerate(detections or []):
        for d in dets:
            x0, y0, x1, y1 = d.box
            m = 4 + int(0.15 * max(x1 - x0, y1 - y0))  # and the halo video compression leaves around it
            keep[t, max(y0 - m, 0) : y1 + m, max(x0 - m, 0) : x1 + m] = False
    for t in range(len(grey)):
        grey[t][~keep[t]] = float(np.median(grey[t][keep[t]])) if keep[t].any() else 0.0
    return [_camera_move(grey[t], grey[t + 1], keep[t] & keep[t + 1]) for t in range(len(grey) - 1)]


def pan_path(moves: list[np.ndarray], frame_size: tuple[int, int]) -> np.ndarray:
    """(F, 2) where the backdrop has slid on screen by each frame (pans only; a zoom about the centre
    moves nothing there). An object standing still in the scene slides the same way."""
    w, h = frame_size
    path = [np.zeros(2)]
    for m in moves:
        zoom = float(m[0, 0])
        shift = m[:, 2] - (1.0 - zoom) * np.array([w / 2, h / 2])
        path.append(path[-1] + shift)
    return np.stack(path)


def _grey(frames: np.ndarray) -> np.ndarray:
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float32)


def flicker(
    frames: np.ndarray, detections: list[list] | None = None, moves: list[np.ndarray] | None = None
) -> tuple[float, float]:
    """(mean |pixel - median of it and its neighbours in time|, largest jump in frame brightness change),
    in grey levels, over the backdrop.

    Smooth change (pans, zooms, dusk) leaves a backdrop pixel between its neighbours, so the median is
    the pixel itself; noise, flashes and frames out of order do not. Neighbours are first warped onto the
    frame by the camera's pan and zoom measured between them, so a moving textured backdrop is smooth too.
    Pixels of detected objects (in any of the three frames) are left out: a fast object legitimately
    covers a pixel for one frame only; objects are judged by their tracks (`_identity`).
    Brightness change is the median pixel change (objects are a minority), robust to big objects.
    """
    grey = _grey(frames)
    if len(grey) < 3:
        return 0.0, 0.0
    moves = moves if moves is not None else camera_moves(frames)
    size = grey.shape[1:][::-1]
    residuals = []
    for t in range(1, len(grey) - 1):
        prev = cv2.warpAffine(grey[t - 1], moves[t - 1], size, borderMode=cv2.BORDER_REPLICATE)
        nxt = cv2.warpAffine(
            grey[t + 1], cv2.invertAffineTransform(moves[t]), size, borderMode=cv2.BORDER_REPLICATE
        )
        cur = grey[t]
        med = np.maximum(np.minimum(prev, cur), np.minimum(np.maximum(prev, cur), nxt))
        keep = np.zeros(cur.shape, bool)
        keep[4:-4, 4:-4] = True  # borders: pixels moved in by the warp
        for dets in detections[t - 1 : t + 2] if detections else []:
            for d in dets:
                x0, y0, x1, y1 = d.box
                keep[max(y0 - 2, 0) : y1 + 2, max(x0 - 2, 0) : x1 + 2] = False
        residuals.append(float(np.abs(cur - med)[keep].mean()) if keep.any() else 0.0)
    change = np.median((grey[1:] - grey[:-1]).reshape(len(grey) - 1, -1), axis=1)
    return float(np.mean(residuals)), float(np.abs(np.diff(change)).max())


ZOOM_STEPS = (0.985, 0.99, 1.0, 1.01, 1.015)  # the world zooms by up to 1.6% a frame at 8 fps


def _camera_move(a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The 2x3 warp taking frame a onto frame b: a pan, then a zoom about the centre.

    Searched directly at half resolution: the pan along x, then along y (whole pixels, refined to a
    fraction by a parabola through the errors around the best), then a few zooms. The error is the mean
    difference over the backdrop (`keep`). A move counts only if it lowers the error by 15% and by 0.3
    grey levels: a flat backdrop shows no move (only compression noise), so none is made up. (Phase correlation was tried first; on backdrops that
    are half smooth sky it underestimates pans by a third to a half.)
    """
    h, w = a.shape
    size = (w // 2, h // 2)
    sa = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    sb = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    sk = cv2.resize(keep.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    reach = max(3, round(0.06 * min(size)))  # the world pans under 3% of the frame a frame: room to spare
    none = _shift_error(sa, sb, sk, 0, 0, reach)
    if none is None:
        return np.float32([[1, 0, 0], [0, 1, 0]])
    dx = _best_shift(lambda k: _shift_error(sa, sb, sk, k, 0, reach), reach)
    dy = _best_shift(lambda k: _shift_error(sa, sb, sk, round(dx), k, reach), reach)
    best, best_err = np.float32([[1, 0, 0], [0, 1, 0]]), none
    for zoom in ZOOM_STEPS:
        for shift in ((dx, dy), (0.0, 0.0)):
            if zoom == 1.0 and shift == (0.0, 0.0):
                continue
            m = cv2.getRotationMatrix2D((size[0] / 2, size[1] / 2), 0.0, zoom)
            m[:, 2] += shift
            moved = cv2.warpAffine(sa, m, size, borderMode=cv2.BORDER_REPLICATE)
            err = float(np.abs(sb - moved)[reach:-reach, reach:-reach][sk[reach:-reach, reach:-reach]].mean())
            if err < 0.85 * best_err and err < best_err - 0.3:
                best_err = err
                best = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
                best[:, 2] += (2 * shift[0], 2 * shift[1])  # back to full-resolution pixels
                best = best.astype(np.float32)
    return best


def _shift_error(
    a: np.ndarray, b: np.ndarray, keep: np.ndarray, dx: int, dy: int, margin: int
) -> float | None:
    """Mean |b(x) - a(x - (dx, dy))| over kept pixels away from the border; None if none are kept."""
    h, w = a.shape
    k = keep[margin : h - margin, margin : w - margin]
    if not k.any():
        return None
    diff = (
        b[margin : h - margin, margin : w - margin]
        - a[margin - dy : h - margin - dy, margin - dx : w - margin - dx]
    )
    return float(np.abs(diff)[k].mean())


def _best_shift(error, reach: int) -> float:
    """The whole shift in [-reach, reach] with the least error, refined by a parabola through its
    neighbours."""
    errs = {k: error(k) for k in range(-reach, reach + 1)}
    k = min(errs, key=lambda j: errs[j])
    if -reach < k < reach:
        left, mid, right = errs[k - 1], errs[k], errs[k + 1]
        curve = left - 2 * mid + right
        if curve > 1e-9:
            return k + 0.5 * (left - right) / curve
    return float(k)
