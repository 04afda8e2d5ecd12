"""Tracking and chains: identities survive crossings and occlusion; a different object is not taken for one."""

from haneul.eval.match import build_chains
from haneul.eval.track import Detection, track_objects


def _det(frame, x, y, colour, kind="ball", area=300.0):
    return Detection(
        frame=frame,
        x=x,
        y=y,
        box=(int(x) - 8, int(y) - 8, int(x) + 8, int(y) + 8),
        area=area,
        colour=colour,
        kind=kind,
    )


def test_crossing_objects_keep_their_identity():
    frames = [[_det(f, 10 + 5 * f, 60, "red"), _det(f, 110 - 5 * f, 64, "blue")] for f in range(21)]
    tracks = track_objects(frames, 128, 128)
    assert sorted((t.colour, len(t.dets)) for t in tracks) == [("blue", 21), ("red", 21)]
    red = next(t for t in tracks if t.colour == "red")
    assert list(red.xy[:, 0]) == [10 + 5 * f for f in range(21)]


def test_object_coming_out_from_behind_joins_its_track():
    frames = [[_det(f, 10 + 4 * f, 60, "red")] if not 8 <= f < 14 else [] for f in range(24)]
    tracks = track_objects(frames, 128, 128)
    assert len(tracks) == 1 and len(tracks[0].dets) == 18


def test_another_colour_coming_out_is_another_object():
    frames = [
        [_det(f, 10 + 4 * f, 60, "red" if f < 8 else "green")] if not 8 <= f < 14 else [] for f in range(24)
    ]
    tracks = track_objects(frames, 128, 128)
    assert sorted(t.colour for t in tracks) == ["green", "red"]
    assert len(build_chains(tracks)) == 2


def test_far_jump_starts_a_new_track_and_chains_rejoin_same_colour_pieces():
    frames = [[_det(f, 10 + 2 * f if f < 10 else 100 + 2 * f, 60, "red")] for f in range(20)]
    tracks = track_objects(frames, 128, 128)
    assert len(tracks) == 2
    chains = build_chains(tracks)
    assert len(chains) == 1 and len(chains[0].dets) == 20
