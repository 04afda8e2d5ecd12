"""haneul: open, self-hostable text-to-video.

The pieces, each in its own module: a causal video VAE (`models/vae.py`), a spacetime-patch diffusion
transformer (`models/dit.py`), rectified-flow training and sampling (`flow.py`), a frozen text encoder
(`models/text_encoder.py`), and the `Pipeline` that joins them (`pipeline.py`).
"""

from pathlib import Path

__version__ = "0.1.0"

# The bundled default model, shipped inside the package (here, not in pipeline.py, so that commands which
# only read its config do not import torch).
DEFAULT_MODEL_DIR = Path(__file__).parent / "bundled" / "haneul-world-s"
