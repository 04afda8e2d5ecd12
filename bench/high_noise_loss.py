"""Does a model draw from its text at high noise? Its flow loss near t = 1 with each clip's caption, with
another clip's caption and with the empty caption.

At t = 1 the latents are pure noise, so all the model can know of the clip is its caption; sampling starts
there and its first steps lay out the picture. A model that has learnt to draw from the text has a loss
with the right caption well below the latents' variance (~1, which predicting their mean gives) and below the
empty caption's; one that has only learnt to read the picture out of the signal left in x_t does not. The
clips are fresh world clips (a seed no training run uses), 17 frames at the model's first size; each time
and caption is scored on the same noise.

    python bench/high_noise_loss.py [--model DIR ...] [--clips 32] [--times 0.1,0.2,0.5]

(`--times`: other noise levels, e.g. small ones to see how well a model removes the last of the noise; the
last line's figures are then at the last time given.)

Last line per model: `model=... loss_t1_caption=... loss_t1_empty=... loss_t1_other=... loss_t1_objects=...`
(`objects`: with the clip's caption, inside its objects' boxes only). Rows `kind swap` and `colour swap` are
inside the boxes too, with every kind (or colour) word of the caption changed to another's: a model that
draws what the words say does worse with them there, most at middle times where the picture shows where an
object is but not its outline (session 20: swapping the kind words changed neither the bundled model's loss
nor that of its fine-tune with place features, at any time).
"""

from __future__ import annotations

import argparse

import torch

TIMES = (0.5, 0.9, 0.97, 0.99, 1.0)


def clips(n: int, width: int, height: int, seed: int = 910_000) -> list:
    from haneul.world import render_clip
    from haneul.world.clips import clip_seed

    return [render_clip(None, width, height, 17, 8.0, clip_seed(seed, i)) for i in range(n)]


@torch.no_grad()
def losses(pipe, world: list, captions: list[str], times=TIMES) -> tuple[list[float], list[float]]:
    """Mean flow loss at each of `times` over `world`'s clips, each conditioned on the caption of the same
    index, over the whole latents and over the latents inside the objects' boxes (what the prompt's
    kinds, colours and counts are about); the noise of clip i is the same for every caption list."""
    from haneul.train.data import object_boxes
    from haneul.train.dit_task import latent_grid, region_loss, squared_error

    totals, inside = [0.0] * len(times), [0.0] * len(times)
    for i, (clip, caption) in enumerate(zip(world, captions, strict=True)):
        video = torch.from_numpy(clip.frames).float().permute(3, 0, 1, 2)[None] / 127.5 - 1.0
        with pipe._autocast():
            x0 = pipe.vae.encode(video).float()
        boxes = torch.from_numpy(object_boxes(clip.truth, clip.frames.shape[:3]))[None]
        region = latent_grid(boxes, x0.shape[2:])  # (1, f, h, w)
        context, mask = pipe.text_encoder.encode([caption])
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(i))
        given = torch.zeros(1, x0.shape[2], dtype=torch.bool)
        for k, t in enumerate(times):
            x_t = (1 - t) * x0 + t * noise
            with pipe._autocast():
                v = pipe.dit(x_t, torch.full((1, x0.shape[2]), t), context, mask, given).float()
            totals[k] += float(squared_error(v, x0, noise).mean())
            inside[k] += float(region_loss(v, x0, noise, given, region)[0])
    return [x / len(world) for x in totals], [x / len(world) for x in inside]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model directory (default: the bundled model)")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (1 on a CPU shared with other work)"
    )
    parser.add_argument("--times", default=",".join(map(str, TIMES)), help="comma-separated times in [0, 1]")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    times = tuple(float(t) for t in args.times.split(","))

    from haneul.pipeline import DEFAULT_MODEL_DIR, Pipeline
    from haneul.world.captions import swap_words
    from haneul.world.vocab import COLOUR_WORDS, KINDS

    for model in args.model or [str(DEFAULT_MODEL_DIR)]:
        pipe = Pipeline.from_pretrained(model)
        width, height = pipe.spec.sizes[0]
        world = clips(args.clips, width, height)
        captions = [c.caption for c in world]
        caption, objects = losses(pipe, world, captions, times)
        rows = {
            "caption": caption,
            "objects": objects,  # own caption, inside the objects' boxes only
            "kind swap": losses(pipe, world, [swap_words(c, KINDS) for c in captions], times)[1],
            "colour swap": losses(pipe, world, [swap_words(c, COLOUR_WORDS) for c in captions], times)[1],
            "other": losses(pipe, world, captions[1:] + captions[:1], times)[0],  # another clip's caption
            "empty": losses(pipe, world, [""] * len(world), times)[0],
        }
        print(f"{model}: flow loss at t = {', '.join(map(str, times))} ({len(world)} clips)")
        for name, values in rows.items():
            print(f"  {name:<11} " + " ".join(f"{v:.3f}" for v in values))
        print(
            f"model={model} loss_t1_caption={rows['caption'][-1]:.3f} loss_t1_empty={rows['empty'][-1]:.3f} "
            f"loss_t1_other={rows['other'][-1]:.3f} loss_t1_objects={rows['objects'][-1]:.3f}"
        )


if __name__ == "__main__":
    main()
