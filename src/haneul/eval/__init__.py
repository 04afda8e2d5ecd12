"""The world-simulation benchmark (`haneul eval world`): how well videos follow their prompts and physics.

    from haneul.eval.benchmark import evaluate_video
    result = evaluate_video(frames, "a red ball bounces on green grass", seed=0, fps=8)
    result.scores  # colour, kind, count, relation, direction, gravity, permanence, temporal, background, overall

Classical vision only (OpenCV, no learned weights): detect.py finds objects (light, Lab colour
segmentation, shape features), track.py follows them, match.py pairs them with what the prompt asks for
(expected.py, from the world's own parser and ground truth), metrics.py scores. corrupt.py breaks ground
truth on purpose to show every score can fail; prompt_set.py writes the standard prompt set.
"""
