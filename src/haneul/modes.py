"""Every prompt kind as conditioning data: image-to-video, extension, keyframes, loop, join, storyboard.

None of these has a sampling loop of its own. Each one decides which frames are given and where
(a list of `FrameCondition`), calls `Pipeline.generate`, and stitches the result to its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from haneul.conditioning import FrameCondition, fit_frames
from haneul.errors import InputError
from haneul.pipeline import GeneratedVideo, Pipeline

# Frames of an input video given to the model as context when extending or joining: 1 + 8 pixel frames (four
# latent frames of a 2x-time VAE, two of a 4x one) say where things are and how they move.
CONTEXT_FRAMES = 9

# Extension and join do not start sampling from pure noise: they start at this noise level from a *guessed
# continuation* of the given frames, as SDEdit does from a video (Meng et al. 2022; ConsistI2V's FrameInit
# starts image-to-video from the image in the same spirit). The guess carries the context's motion and light
# change on (`extrapolate`: optical flow and the per-channel mean drift; for a join, A carried forward fading
# into B carried backward), so the new frames begin from the context's colours, texture and movement instead
# of being redrawn frame by frame from independent noise. Measured on the bench's world clips (docs/modes.md),
# against the earlier prior (the edge frame held still, at 0.8): worst seam ratios extend 1.86 -> 1.90,
# backward 2.93 -> 2.41, join 3.54 -> 2.79, and the new frames move the way the prompt says more often.
# 1.0 is pure noise (no prior); lower values leave the model less freedom.
PRIOR_STRENGTH = 0.7


def image_to_video(
    pipe: Pipeline, prompt: str, image: np.ndarray, at_end: bool = False, **kwargs
) -> GeneratedVideo:
    """Animate a still: the image is the first frame (or the last, with at_end=True)."""
    return pipe.generate(prompt, conditions=[FrameCondition(image[None], -1 if at_end else 0)], **kwargs)


def keyframes(
    pipe: Pipeline, prompt: str, items: list[tuple[np.ndarray, float]], fps: float | None = None, **kwargs
):
    """Fill the frames between keyframes: items are (frames (F, H, W, 3) or an image (H, W, 3), seconds)."""
    fps = fps or pipe.spec.fps[0]
    conditions = []
    for frames, seconds in items:
        if seconds < 0:
            raise InputError(f"keyframe time {seconds:g}s must not be negative", param="keyframe")
        conditions.append(FrameCondition(frames if frames.ndim == 4 else frames[None], round(seconds * fps)))
    if "seconds" not in kwargs and "num_frames" not in kwargs:  # long enough to hold the last keyframe
        last = max(c.frame_index + len(c.frames) for c in conditions)
        tf = pipe.frame_step
        kwargs["num_frames"] = 1 + tf * max(1, -(-(last - 1) // tf))
    return pipe.generate(prompt, conditions=conditions, fps=fps, **kwargs)


def _head_tail(pipe: Pipeline, video: np.ndarray, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """Fit `video` to the size; return it with how many of its frames to give as context at the start of
    a new video (1 + tf*k, so they fill whole latent frames from frame 0) and at its end (tf*k, so they fill
    whole latent frames ending on the last frame)."""
    frames = fit_frames(video, width, height)
    tf = pipe.frame_step
    groups = min((CONTEXT_FRAMES - 1) // tf, max(1, (len(frames) - 1) // tf))
    if len(frames) < tf + 1:
        raise InputError(f"a video prompt needs at least {tf + 1} frames, got {len(frames)}", param="video")
    return frames, 1 + tf * groups, tf * groups


def _size(pipe: Pipeline, video: np.ndarray, kwargs: dict) -> tuple[int, int]:
    if kwargs.get("width") is None and kwargs.get("height") is None:
        h, w = video.shape[1:3]
        if (w, h) in pipe.spec.sizes or (w % pipe.size_multiple == 0 and h % pipe.size_multiple == 0):
            return pipe.check_size(w, h)
        return pipe.check_size(None, None)
    return pipe.check_size(kwargs.get("width"), kwargs.get("height"))


def crossfade(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Frames going from `a` to `b`: frame i is (1 - w) a[i] + w b[i] with w = (i + 1) / (n + 1).

    `a` and `b` show the same moments (an input's frames and the model's decode of them), so the blend
    does not ghost; it spreads the step between the two renderings over the frames instead of one cut.
    """
    if a.shape != b.shape:
        raise ValueError(f"crossfade needs frames of the same shape, got {a.shape} and {b.shape}")
    w = (np.arange(1, len(a) + 1, dtype=np.float32) / (len(a) + 1))[:, None, None, None]
    return np.round((1 - w) * a + w * b).astype(np.uint8)


def extrapolate(frames: np.ndarray, n: int, span: int = 4) -> np.ndarray:
    """n frames continuing `frames` past its last one, at the motion and light change of its last `span`
    steps: (n, H, W, 3) uint8. A rough guess, good enough as the starting point of sampling.

    Motion: dense optical flow (Farneback) from the last frame back to the frame `span` earlier gives each
    pixel's velocity; moving pixels are carried forward k steps (drawn slowest first, so a moving object
    covers the background) over the background with the moving parts inpainted. Light: the per-channel mean
    change per step is continued (the world's light drifts; a held frame would stop it at the seam).
    """
    import cv2

    span = max(1, min(span, len(frames) - 1))
    last = frames[-1]
    # (H, W, 2) pixels per frame, at the last frame's pixels
    velocity = -_flow(last, frames[-1 - span]) / span
    drift = (last.astype(np.float32).mean((0, 1)) - frames[-1 - span].astype(np.float32).mean((0, 1))) / span
    speed = np.linalg.norm(velocity, axis=-1)
    moving = speed > 0.25
    h, w = speed.shape
    base = last
    if 0 < moving.mean() < 0.5:  # objects moving over a still background: uncover the background
        base = cv2.inpaint(
            last, cv2.dilate(moving.astype(np.uint8), np.ones((3, 3), np.uint8)), 3, cv2.INPAINT_TELEA
        )
    ys, xs = np.nonzero(moving)
    order = np.argsort(speed[ys, xs])
    ys, xs = ys[order], xs[order]
    out = []
    for k in range(1, n + 1):
        frame = base.astype(np.float32).copy()
        ty = np.round(ys + k * velocity[ys, xs, 1]).astype(int)
        tx = np.round(xs + k * velocity[ys, xs, 0]).astype(int)
        inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
        frame[ty[inside], tx[inside]] = last[ys[inside], xs[inside]]
        out.append(np.clip(frame + k * drift, 0, 255).round().astype(np.uint8))
    return np.stack(out)


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) from RGB frame a to b: per channel, the largest of the three at each pixel (a red
    ball on green grass is nearly invisible in gray: its flow there was 0.3 px/frame for a true 2.4)."""
    import cv2

    flows = np.stack(
        [
            cv2.calcOpticalFlowFarneback(
                np.ascontiguousarray(a[..., c]),
                np.ascontiguousarray(b[..., c]),
                None,
                pyr_scale=0.5,
                levels=4,
                winsize=21,
                iterations=5,
                poly_n=7,
                poly_sigma=1.5,
                flags=0,
            )
            for c in range(3)
        ]
    )
    pick = np.linalg.norm(flows, axis=-1).argmax(0)
    return np.take_along_axis(flows, pick[None, ..., None], 0)[0]


def extrapolate_back(frames: np.ndarray, n: int) -> np.ndarray:
    """n frames leading into `frames` (what came before its first), in time order."""
    return extrapolate(frames[::-1], n)[::-1]


def colour_start(frames: np.ndarray, prompt: str) -> np.ndarray:
    """The edit's starting frames with the object's colour moved to the one `prompt` names: (F, H, W, 3) uint8.

    Why: an edit at a low strength (SDEdit, Meng et al. 2022) keeps the input's low frequencies, and
    colour is one of them: at 0.3 the model redraws texture but the object keeps its old colour (measured
    in docs/modes.md). So the new colour is painted into the starting frames, and the model re-renders
    from there at the asked strength. Only when the prompt names exactly one object colour (the world's
    vocabulary, `parse_prompt`) that the frames lack, and another object colour is found (the commonest
    palette colour that may stand on the prompt's backdrop, in one compact region); otherwise the frames
    are returned as they are. The shift is additive (the object's shading is kept) and scaled by the
    scene's light, read as the ratio of the found colour to its palette value; it fades out between Lab
    distance 20 and 32 from the palette colour, as the world benchmark's detector draws object edges.
    """
    import cv2

    from haneul.world import parse_prompt, vocab

    try:
        scene = parse_prompt(prompt)
    except InputError:
        return frames
    named = {o.colour for o in scene.objects if o.colour}
    if len(named) != 1:  # which object takes which colour is not known here
        return frames
    names = list(vocab.COLOURS)
    target = names.index(named.pop())
    sample = frames[np.linspace(0, len(frames) - 1, min(len(frames), 8)).round().astype(int)]
    dist = _palette_distance(sample)
    near = np.where(dist.min(-1) < 20, dist.argmin(-1), -1)
    share = np.array([(near == i).mean() for i in range(len(names))])
    # An object covers 0.2-15% of the pixels (less is texture or edges); the world never gives an object
    # a colour close to its backdrop's, so such pixels are backdrop texture (sand is near orange).
    allowed = set(vocab.allowed_colours(scene.background, scene.occluder))
    found = [i for i, c in enumerate(names) if i != target and c in allowed and 0.002 <= share[i] < 0.15]
    if share[target] >= 0.002 or not found:  # the colour is there already, or no object to move
        return frames
    source = max(found, key=lambda i: share[i])
    if not _compact(near == source):  # scattered pixels (dark grass at night reads as black): no object
        return frames
    observed = sample[near == source].astype(np.float32).mean(0)
    light = np.clip((observed + 8) / (np.float32(vocab.COLOURS[names[source]]) + 8), 0.3, 1.5)
    shift = np.float32(vocab.COLOURS[names[target]]) * light - observed
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):  # frame by frame: the distances of a long video would not fit
        d = _palette_distance(frame[None])[0, ..., source]
        # soft edges (Lab 20 -> 32), but only next to the object's sure pixels, as the detector's hysteresis
        near_object = cv2.dilate((d < 20).astype(np.uint8), np.ones((5, 5), np.uint8), iterations=2) > 0
        weight = (np.clip((32 - d) / 12, 0, 1) * near_object)[..., None]
        out[i] = np.clip(frame + weight * shift, 0, 255).round()
    return out


def _compact(masks: np.ndarray) -> bool:
    """True if, in most frames that have any, the mask's pixels lie mostly (60%) in one connected region."""
    import cv2

    votes = []
    for mask in masks:
        if mask.sum() == 0:
            continue
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        votes.append(stats[1:, cv2.CC_STAT_AREA].max() >= 0.6 * mask.sum())
    return bool(votes) and np.mean(votes) >= 0.5


def _palette_distance(frames: np.ndarray) -> np.ndarray:
    """Lab distance of every pixel to every world palette colour: (F, H, W, colours) float32."""
    from haneul.world import vocab

    palette = np.stack([vocab.rgb_to_lab(c) for c in vocab.COLOURS.values()]).astype(np.float32)
    return np.linalg.norm(vocab.rgb_to_lab(frames).astype(np.float32)[..., None, :] - palette, axis=-1)


def prior_kwargs(prior: np.ndarray, prior_strength: float) -> dict:
    """generate() arguments that start sampling at `prior_strength` from the still continuation `prior`
    (given frames stay given; only the new frames start from it). Nothing at strength 1 (pure noise)."""
    if not 0 < prior_strength <= 1:
        raise InputError(f"prior_strength {prior_strength:g} must be in (0, 1]", param="prior_strength")
    return {} if prior_strength == 1.0 else {"init_video": prior, "strength": prior_strength}


def extend(
    pipe: Pipeline,
    prompt: str,
    video: np.ndarray,
    seconds: float = 2.0,
    backward: bool = False,
    prior_strength: float = PRIOR_STRENGTH,
    **kwargs,
):
    """Continue `video` forward (or, with backward=True, make what came before it). Returns the whole video.

    The input's frames are kept, except the ones given to the model as context: those fade into the
    model's decode of them, so there is no step where the input's pixels meet the VAE's rendering.
    Sampling starts at `prior_strength` from the context carried on by `extrapolate` (see PRIOR_STRENGTH)."""
    fps = kwargs.pop("fps", None) or pipe.spec.fps[0]
    width, height = _size(pipe, video, kwargs)
    kwargs.update(width=width, height=height)
    frames, n_head, n_tail = _head_tail(pipe, video, width, height)
    tf = pipe.frame_step
    new = tf * max(1, round(seconds * fps / tf))
    if backward:  # the input's first frames end the new video
        total = 1 + new + n_tail  # 1 + tf*k, and the input starts on a latent-frame boundary
        prior = np.concatenate([extrapolate_back(frames[:n_tail], total - n_tail), frames[:n_tail]])
        out = pipe.generate(
            prompt,
            num_frames=total,
            fps=fps,
            conditions=[FrameCondition(frames[:n_tail], total - n_tail)],
            **prior_kwargs(prior, prior_strength),
            **kwargs,
        )
        # frame 0 is the extra one that makes the count 1 + tf*k; drop it so both directions add `new` frames
        made = out.frames
        seam = crossfade(made[total - n_tail :], frames[:n_tail])
        out.frames = np.concatenate([made[1 : total - n_tail], seam, frames[n_tail:]])
    else:  # the input's last frames start the new video
        total = n_head + new  # 1 + tf*k
        prior = np.concatenate([frames[-n_head:], extrapolate(frames[-n_head:], new)])
        out = pipe.generate(
            prompt,
            num_frames=total,
            fps=fps,
            conditions=[FrameCondition(frames[-n_head:], 0)],
            **prior_kwargs(prior, prior_strength),
            **kwargs,
        )
        seam = crossfade(frames[-n_head:], out.frames[:n_head])
        out.frames = np.concatenate([frames[:-n_head], seam, out.frames[n_head:]])
    out.metadata["mode"] = "extend_backward" if backward else "extend"
    return out


def loop(pipe: Pipeline, prompt: str, **kwargs) -> GeneratedVideo:
    """A video whose last frame flows into its first, to be played on repeat.

    A loop of k latent frames has tf * k frames (2 s at 8 fps: 16): the frame after its last is its first.
    A short opening clip is made first. A second pass is given the opening's first latent frames at its
    start and the same frames again right after the loop's end, so its last window is conditioned on
    where the loop begins and its motion runs back into the start. The loop is cut from that pass so that
    its last frame is followed, in the same decode and inside one latent group, by a decode of the loop's
    first frame. The loop's first frames then fade from that end decode into the start decode (both show
    the same given frames, so nothing ghosts): the step from the last frame to the first is one step of a
    single decode, not a cut between two decodes of the same picture.
    """
    fps = kwargs.get("fps") or pipe.spec.fps[0]
    num_frames = pipe.check_frames(kwargs.pop("num_frames", None), kwargs.pop("seconds", None), fps)
    tf = pipe.frame_step
    groups = (num_frames - 1) // tf
    if groups < 2:
        raise InputError(
            f"a loop needs at least {2 * tf / fps:g}s ({2 * tf} frames), got {num_frames} frames",
            param="seconds",
        )
    opening = pipe.generate(prompt, num_frames=1 + 2 * tf, **kwargs).frames
    # Given at the start: the opening's latent frames 0..c (frames 0..c*tf); c = 2 leaves the frames
    # tf..2tf given at both ends to fade over, but keeps at least one latent frame for the model to make.
    c = min(2, groups - 1)
    total = num_frames + 2 * tf
    conditions = [
        FrameCondition(opening[: 1 + c * tf], 0),
        # the opening's frames 1..2tf (latent frames 1 and 2, with frame 1 as causal context) right after
        # the loop's end: made[num_frames + j] shows the opening's frame 1 + j
        FrameCondition(opening[1 : 1 + 2 * tf], num_frames),
    ]
    out = pipe.generate(prompt, num_frames=total, conditions=conditions, **kwargs)
    made, period = out.frames, tf * groups
    # The loop is made[tf : tf + period]; made[tf + period + i] is the end's decode of the frame that
    # made[tf + i] (the start's decode) shows, for i = 0 .. (c - 1) * tf.
    fade = (c - 1) * tf + 1
    head = crossfade(made[tf + period : tf + period + fade], made[tf : tf + fade])
    out.frames = np.concatenate([head, made[tf + fade : tf + period]])
    out.metadata["num_frames"] = len(out.frames)
    out.metadata["mode"] = "loop"
    return out


def join(
    pipe: Pipeline,
    prompt: str,
    a: np.ndarray,
    b: np.ndarray,
    seconds: float = 1.0,
    prior_strength: float = PRIOR_STRENGTH,
    **kwargs,
) -> GeneratedVideo:
    """Generate a transition from the end of clip `a` to the start of clip `b`; returns a + transition + b.

    As in `extend`, the context frames of both clips are cross-faded with the model's decode of them, and
    sampling starts at `prior_strength` from a guessed transition: a carried forward fading into b carried
    backward (`extrapolate`)."""
    fps = kwargs.pop("fps", None) or pipe.spec.fps[0]
    width, height = _size(pipe, a, kwargs)
    kwargs.update(width=width, height=height)
    a_frames, na, _ = _head_tail(pipe, a, width, height)
    b_frames, _, nb = _head_tail(pipe, b, width, height)
    tf = pipe.frame_step
    gap = tf * max(1, round(seconds * fps / tf))
    total = na + gap + nb
    conditions = [FrameCondition(a_frames[-na:], 0), FrameCondition(b_frames[:nb], total - nb)]
    bridge = crossfade(extrapolate(a_frames[-na:], gap), extrapolate_back(b_frames[:nb], gap))
    prior = np.concatenate([a_frames[-na:], bridge, b_frames[:nb]])
    out = pipe.generate(
        prompt,
        num_frames=total,
        fps=fps,
        conditions=conditions,
        **prior_kwargs(prior, prior_strength),
        **kwargs,
    )
    made = out.frames
    out.frames = np.concatenate(
        [
            a_frames[:-na],
            crossfade(a_frames[-na:], made[:na]),  # the context frames fade into the model's decode of them
            made[na : total - nb],
            crossfade(made[total - nb :], b_frames[:nb]),  # and back out of it into clip b
            b_frames[nb:],
        ]
    )
    out.metadata["mode"] = "join"
    return out


@dataclass
class Shot:
    prompt: str
    seconds: float = 2.0
    image: np.ndarray | None = None  # the shot starts from this still
    video: np.ndarray | None = None  # the shot continues this clip
    seed: int | None = None
    extra: dict = field(default_factory=dict)


def storyboard(pipe: Pipeline, shots: list[Shot], seed: int = 0, **kwargs) -> GeneratedVideo:
    """Shots rendered as one continuous video: each shot is given the end of the previous one, so the
    subjects, their colours and the style carry over; a shot's own image or video prompt starts it instead."""
    if not shots:
        raise InputError("a storyboard needs at least one shot", param="shots")
    pieces: list[np.ndarray] = []
    caption_parts, last = [], None
    for i, shot in enumerate(shots):
        shot_seed = shot.seed if shot.seed is not None else seed + i
        if shot.video is not None:
            out = extend(pipe, shot.prompt, shot.video, seconds=shot.seconds, seed=shot_seed, **kwargs)
        elif shot.image is not None:
            out = image_to_video(
                pipe, shot.prompt, shot.image, seconds=shot.seconds, seed=shot_seed, **kwargs
            )
        elif last is not None:
            out = extend(pipe, shot.prompt, last, seconds=shot.seconds, seed=shot_seed, **kwargs)
            pieces[-1] = out.frames[: len(last)]  # its end now fades into the new shot
            out.frames = out.frames[len(last) :]
        else:
            out = pipe.generate(shot.prompt, seconds=shot.seconds, seed=shot_seed, **kwargs)
        pieces.append(out.frames)
        caption_parts.append(out.caption)
        last = out.frames
    result = out
    result.frames = np.concatenate(pieces)
    result.prompt = " | ".join(s.prompt for s in shots)
    result.caption = " | ".join(caption_parts)
    result.metadata["mode"] = "storyboard"
    result.metadata["shots"] = [{"prompt": s.prompt, "seconds": s.seconds} for s in shots]
    return result
