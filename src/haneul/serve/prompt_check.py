"""Prompt moderation for the API process, without torch in it.

`haneul.safety.moderation` embeds prompts with a MiniLM model (torch). The API process must
stay light, so the check runs in one long-lived child process that the API talks to over a pipe, one JSON
line per question. If the child cannot answer, the request goes ahead: the worker's pipeline runs the same
check before generating, so a refused prompt still ends as a failed job with code `moderation_blocked`.

Prompts that arrive while the child is busy are asked together, as one batch: embedding is nearly all of
a check's cost, and one batch of 10 prompts costs about what 2.5 single ones do (measured on a quiet
machine: 11.9 ms for one, 28 ms for ten). Without this, clients creating videos at the same time queue
behind each other's checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from haneul.errors import ModerationBlocked

# One torch thread: a single prompt is too small a batch for a second thread to pay off, and on cores
# that workers (or anything else) keep busy, two threads wait for each other: measured under load,
# 66-78 ms per check with one thread against 177-234 ms with two (median of 30).
#
# A batch is one Moderator.moderate_many call: each prompt gets the decision moderate() gives it alone (the
# same rules, and head embeddings that differ from single ones only in the last bits of the floats), and
# the prompts that reach the embedding head are embedded together.
CHILD = """
import json, sys
import torch
torch.set_num_threads(1)
from haneul.safety.moderation import default_moderator
moderator = default_moderator()
if moderator.head is not None:
    moderator.head.freeze()  # the encoder as a TorchScript trace, if it embeds bit-identically
moderator.moderate("a ball")  # load the policy and embeddings (and warm the model up) before saying ready
print(json.dumps({"ready": True}), flush=True)

def answer(result):
    return {"ok": True} if result.allowed else {"category": result.category, "message": result.message}

for line in sys.stdin:
    results = moderator.moderate_many(json.loads(line)["prompts"])
    print(json.dumps([answer(r) for r in results]), flush=True)
"""


class PromptChecker:
    """Asks a child process running the moderator; thread-safe. One question is out at a time; prompts
    that arrive meanwhile wait and go together in the next."""

    def __init__(self):
        self.lock = threading.Lock()  # held while asking the child
        self.waiting: list[dict] = []  # {"prompt", "answer"} not yet sent; guarded by waiting_lock
        self.waiting_lock = threading.Lock()
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
        mine = {"prompt": prompt, "answer": None}
        with self.waiting_lock:
            self.waiting.append(mine)
        with self.lock:
            if mine["answer"] is None:  # nobody asked for it while this thread waited: ask for all waiting
                with self.waiting_lock:
                    batch, self.waiting = self.waiting, []
                answers = self._ask([w["prompt"] for w in batch])
                for waiter, answer in zip(batch, answers, strict=True):
                    waiter["answer"] = answer
        answer = mine["answer"]
        if "category" in answer:
            raise ModerationBlocked(answer["category"], answer["message"])

    def _ask(self, prompts: list[str]) -> list[dict]:
        """The child's answer for each prompt ({"ok": true} for all if it cannot answer); holds self.lock."""
        for _attempt in range(2):
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            if self.proc is None:
                continue
            try:
                self.proc.stdin.write(json.dumps({"prompts": prompts}) + "\n")
                self.proc.stdin.flush()
                answers = json.loads(self.proc.stdout.readline())
            except (OSError, ValueError):
                self.proc = None
                continue
            if isinstance(answers, list) and len(answers) == len(prompts):
                return answers
            self.proc = None
        return [{"ok": True} for _ in prompts]

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
