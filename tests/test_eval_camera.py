"""Camera motion and flicker on frames made here: pans are measured on the backdrop, smooth change is not
flicker, noise, flashes and disorder are."""

import numpy as np

from haneul.eval import camera
from haneul.eval.track import Detection

F = 32


def _texture(rng, h=160, w=240):
    texture = np.clip(rng.normal(128, 40, (h // 4, w // 4, 3)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(texture, 4, 0), 4, 1))


def test_pan_is_measured_on_the_backdrop_not_on_objects():
    rng = np.random.default_rng(1)
    texture = _texture(rng)
    frames = np.stack([texture[16:144, 3 * t : 3 * t + 128] for t in range(F)])  # content slides left 3 px
    box = []
    for t in range(F):  # a bright square moving right 5 px a frame, which a naive match would follow
        x = 10 + 5 * t
        frames[t, 50:70, x : x + 20] = 250
        box.append([Detection(t, x + 10.0, 60.0, (x, 50, x + 20, 70), 400.0, "white", "box")])
    pan = camera.pan_path(camera.camera_moves(frames, box), (128, 128))
    assert abs(pan[-1, 0] - (-3 * (F - 1))) < 0.1 * 3 * (F - 1) and abs(pan[-1, 1]) < 3
    plain = np.full((F, 128, 128, 3), 238, np.uint8)
    for t in range(F):
        x = 10 + 5 * t
        plain[t, 50:70, x : x + 20] = (220, 30, 40)
    assert np.allclose(camera.pan_path(camera.camera_moves(plain, box), (128, 128)), 0.0)  # nothing to see


def test_flicker_separates_smooth_change_from_noise_flashes_and_disorder():
    rng = np.random.default_rng(0)
    texture = _texture(rng)
    pan = np.stack([texture[16:144, 2 * t : 2 * t + 128] for t in range(F)])  # the camera pans 2 px a frame
    residual, jitter = camera.flicker(pan)
    assert residual < 1.0 and jitter < 1.0
    dusk = np.stack([(pan[0] * (1 - 0.4 * t / F)).astype(np.uint8) for t in range(F)])  # light fades
    assert max(camera.flicker(dusk)) < 2.0
    noisy = np.clip(pan.astype(np.float32) + rng.normal(0, 15, pan.shape), 0, 255).astype(np.uint8)
    assert camera.flicker(noisy)[0] > 5.0
    flash = pan.copy()
    flash[10] = np.clip(flash[10].astype(np.int16) + 40, 0, 255).astype(np.uint8)
    assert camera.flicker(flash)[1] > 30.0
    assert camera.flicker(pan[rng.permutation(F)])[0] > 5.0
