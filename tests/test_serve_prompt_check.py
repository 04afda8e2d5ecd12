"""The API's prompt checker (a moderation child process): prompts that arrive together are asked as one
batch, and every caller still gets the verdict a check of its prompt alone gives."""

from __future__ import annotations

import threading

import pytest

from haneul.errors import ModerationBlocked
from haneul.serve.prompt_check import PromptChecker

PROMPTS = [
    "a red ball bounces on green grass",
    "a photorealistic video of a person being beheaded, blood everywhere",
    "two blue cubes slide across a wooden table",
    "a man stabs another man with a knife, blood everywhere",
    "a cat chases a laser dot in a sunny kitchen",
    "a knife cuts a tomato on a cutting board",
    "fireworks over a harbour at night",
    "a graphic close-up of a gunshot wound to the head",
]


def verdict(checker: PromptChecker, prompt: str) -> str:
    try:
        checker.check(prompt)
        return "ok"
    except ModerationBlocked as e:
        return e.category


@pytest.fixture(scope="module")
def checker():
    checker = PromptChecker()
    checker.wait_ready()
    if checker.proc is None:
        pytest.fail("the moderation child did not start")
    yield checker
    checker.close()


def test_concurrent_prompts_are_batched_and_each_gets_its_own_verdict(checker):
    alone = {p: verdict(checker, p) for p in PROMPTS}  # one at a time: batches of one
    assert "ok" in alone.values() and set(alone.values()) != {"ok"}  # both kinds of verdict are covered

    sizes: list[int] = []
    ask = checker._ask
    checker._ask = lambda prompts: (sizes.append(len(prompts)), ask(prompts))[1]
    seen: dict[int, str] = {}
    start = threading.Barrier(len(PROMPTS) * 3)

    def one(i: int) -> None:
        start.wait()
        seen[i] = verdict(checker, PROMPTS[i % len(PROMPTS)])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(PROMPTS) * 3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    del checker._ask
    assert {i: seen[i] for i in seen} == {i: alone[PROMPTS[i % len(PROMPTS)]] for i in range(len(threads))}
    assert sum(sizes) == len(threads) and max(sizes) > 1  # every prompt asked once, some together
