"""haneul: open, self-hostable text-to-video.

The pieces, each in its own module: a causal video VAE (`models/vae.py`), a spacetime-patch diffusion
transformer (`models/dit.py`), rectified-flow training and sampling (`flow.py`), a frozen text encoder
(`models/text_encoder.py`), and the `Pipeline` that joins them (`pipeline.py`).
"""

__version__ = "0.1.0"
