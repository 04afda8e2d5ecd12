"""Prompt moderation for the API process, without torch in it.

`haneul.safety.moderation` embeds prompts with a MiniLM model (torch). The API process must
stay light, so the check runs in one long-lived child process that the API talks to over a pipe, one JSON
line per question. If the child cannot answer, the request goes ahead: the worker's pipeline runs the same
check before generating, so a refused prompt still ends as a failed job with code `moderation_blocked`.

The API asks from its event loop (asyncio pipes, no thread per waiting request) and writes each question
as soon as it comes. The child answers, in one batch, every question that is waiting in its pipe when it
gets to read: one batch of nine world prompts costs 25.1 ms of CPU against 38.8 for nine single checks
(the int8 encoder runs each text alone, but scoring against the exemplars and the rest go together;
session 9). Answering each question alone as soon as it was decided was slower in `bench/api_load.py`.
Without the batching, clients creating videos at the same time queue behind each other's checks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys

from haneul.errors import ModerationBlocked

# One torch thread: a single prompt is too small a batch for a second thread to pay off, and on cores
# that workers (or anything else) keep busy, torch's two spinning threads wait for each other: measured under
# load, 66-78 ms per check with one thread against 177-234 ms with two (median of 30). The encoder itself
# runs under ONNX Runtime with int8 weights where it can: one thread per text, two texts at a time
# (`onnx_encoder.hidden_states`).
#
# A batch is one Moderator.moderate_many call: each prompt gets the decision moderate() gives it alone (the
# same rules, and the same head embeddings: the int8 encoder runs each text alone), and the prompts that
# reach the embedding head are scored against the exemplars together. The child reads whatever the pipe
# holds (os.read returns what is there, up to 1 MB) and answers each complete line of it.
CHILD = """
import json, os, sys
import torch
torch.set_num_threads(1)
from haneul.safety.moderation import default_moderator
moderator = default_moderator()  # its encoder runs under ONNX Runtime with int8 weights where it can
moderator.moderate("a ball")  # load the policy and embeddings (and warm the model up) before saying ready
out = sys.stdout.buffer
out.write(json.dumps({"ready": True}).encode() + b"\\n")
out.flush()

def answer(result):
    return {"ok": True} if result.allowed else {"category": result.category, "message": result.message}

pending = b""
while chunk := os.read(0, 1 << 20):
    *lines, pending = (pending + chunk).split(b"\\n")
    questions = [json.loads(line) for line in lines if line.strip()]
    if not questions:
        continue
    results = iter(moderator.moderate_many([p for q in questions for p in q["prompts"]]))
    replies = [
        {"id": q["id"], "batch": len(questions), "answers": [answer(next(results)) for _ in q["prompts"]]}
        for q in questions
    ]
    out.write(b"".join(json.dumps(r).encode() + b"\\n" for r in replies))
    out.flush()
"""

OK = {"ok": True}


class PromptChecker:
    """Asks a child process running the moderator; used from one asyncio event loop (the API's).

    `start()` in the loop (the API's startup), then `await check(prompt)` from any request."""

    def __init__(self):
        self.proc: asyncio.subprocess.Process | None = None
        self.waiting: dict[int, asyncio.Future] = {}  # question id -> its answers
        self.ids = itertools.count()
        self.starting: asyncio.Task | None = None
        self.batches: list[int] = []  # questions per child batch, the last 1000 (tests, curiosity)

    async def start(self) -> None:
        """Start the child and wait until it is ready (loading takes seconds); at most one start at a time."""
        if self.starting is None or self.starting.done():
            self.starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self.starting)

    async def _start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=1 << 24,
        )
        if not await self.proc.stdout.readline():  # {"ready": true}, or EOF if it failed to start
            self.proc = None
            return
        asyncio.ensure_future(self._read_answers(self.proc))

    async def _read_answers(self, proc: asyncio.subprocess.Process) -> None:
        """Hand each answer line to the question that waits for it; when the child dies, the questions
        still out are answered by `_ask` (which starts a new child)."""
        while line := await proc.stdout.readline():
            try:
                reply = json.loads(line)
                future = self.waiting.pop(reply["id"])
            except (ValueError, KeyError, TypeError):
                continue
            self.batches = self.batches[-999:] + [reply.get("batch", 1)]
            if not future.done():
                future.set_result(reply.get("answers"))
        if self.proc is proc:
            self.proc = None
        for future in self.waiting.values():
            if not future.done():
                future.set_result(None)
        self.waiting.clear()

    async def check(self, prompt: str) -> None:
        """Raise ModerationBlocked if the policy refuses `prompt`; pass if the checker is unavailable."""
        answer = (await self._ask([prompt]))[0]
        if "category" in answer:
            raise ModerationBlocked(answer["category"], answer["message"])

    async def _ask(self, prompts: list[str]) -> list[dict]:
        """The child's answer for each prompt ({"ok": true} for all if it cannot answer, twice)."""
        for _attempt in range(2):
            if self.proc is None or self.proc.returncode is not None:
                await self.start()
            proc = self.proc
            if proc is None:
                continue
            question = next(self.ids)
            future = asyncio.get_running_loop().create_future()
            self.waiting[question] = future
            try:
                proc.stdin.write(json.dumps({"id": question, "prompts": prompts}).encode() + b"\n")
                await proc.stdin.drain()
            except (OSError, RuntimeError):  # the child is gone (broken pipe, closed transport)
                self.waiting.pop(question, None)
                self.proc = None if self.proc is proc else self.proc
                continue
            answers = await future
            if isinstance(answers, list) and len(answers) == len(prompts):
                return answers
        return [OK for _ in prompts]

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()  # lets asyncio close the pipes while its loop still runs
