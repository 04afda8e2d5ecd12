"""Recaptioning: prompt expansion at generation time and captions for training data.

    from haneul.prompting import expand_prompt
    expand_prompt("빨간 공이 잔디 위에서 튄다", seed=0).caption   # the world's detailed English caption

- `expand.py`: `Expansion`, `expand_prompt`, the built-in `WorldExpander` (no network, deterministic).
- `llm.py`: `ChatExpander` for any OpenAI-compatible chat-completions endpoint, with fallback.
- `captioner.py`: `caption_folder` writes metadata.jsonl for the user's videos with a vision endpoint.
- `chat.py`: the small urllib client both use.
"""

from haneul.prompting.expand import Expansion, WorldExpander, expand_prompt, model_expander
from haneul.prompting.llm import ChatExpander

__all__ = ["ChatExpander", "Expansion", "WorldExpander", "expand_prompt", "model_expander"]
