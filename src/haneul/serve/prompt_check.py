"""Prompt moderation for the API process, without torch in it.

`haneul.safety.moderation.check_prompt` embeds prompts with a MiniLM model (torch). The API process must
stay light, so the check runs in one long-lived child process that the API talks to over a pipe, one JSON
line per prompt. If the child cannot answer, the request goes ahead: the worker's pipeline runs the same
check before generating, so a refused prompt still ends as a failed job with code `moderation_blocked`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from haneul.errors import ModerationBlocked

CHILD = """
import json, sys
from haneul.errors import ModerationBlocked
from haneul.safety.moderation import check_prompt
check_prompt("a ball")  # load the policy and embeddings before saying ready
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    try:
        check_prompt(json.loads(line)["prompt"])
        print(json.dumps({"ok": True}), flush=True)
    except ModerationBlocked as e:
        print(json.dumps({"category": e.category, "message": e.message}), flush=True)
"""


class PromptChecker:
    """Asks a child process running `check_prompt`; thread-safe (one question at a time)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.start_thread = threading.Thread(target=self._start_locked, daemon=True)
        self.start_thread.start()  # loading takes seconds: start now, the first prompt waits for it

    def _start_locked(self) -> None:
        with self.lock:
            self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        if not self.proc.stdout.readline():  # {"ready": true}, or EOF if it failed to start
            self.proc = None

    def wait_ready(self) -> None:
        self.start_thread.join()

    def check(self, prompt: str) -> None:
        """Raise ModerationBlocked if the policy refuses `prompt`; pass if the checker is unavailable."""
        with self.lock:
            for _attempt in range(2):
                if self.proc is None or self.proc.poll() is not None:
                    self._start()
                if self.proc is None:
                    continue
                try:
                    self.proc.stdin.write(json.dumps({"prompt": prompt}) + "\n")
                    self.proc.stdin.flush()
                    answer = json.loads(self.proc.stdout.readline())
                except (OSError, ValueError):
                    self.proc = None
                    continue
                if "category" in answer:
                    raise ModerationBlocked(answer["category"], answer["message"])
                return

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
