"""The API's prompt checker (a moderation child process): prompts that arrive together are answered in
one batch, every caller still gets the verdict a check of its prompt alone gives, and a child that dies
is replaced."""

from __future__ import annotations

import asyncio

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


async def verdict(checker: PromptChecker, prompt: str) -> str:
    try:
        await checker.check(prompt)
        return "ok"
    except ModerationBlocked as e:
        return e.category


async def run_checks() -> None:
    checker = PromptChecker()
    await checker.start()
    assert checker.proc is not None, "the moderation child did not start"
    try:
        alone = {p: await verdict(checker, p) for p in PROMPTS}  # one at a time: batches of one
        assert "ok" in alone.values() and set(alone.values()) != {"ok"}  # both kinds of verdict are covered
        assert set(checker.batches) == {1}

        checker.batches.clear()
        many = [PROMPTS[i % len(PROMPTS)] for i in range(len(PROMPTS) * 3)]
        seen = await asyncio.gather(*(verdict(checker, p) for p in many))
        assert seen == [alone[p] for p in many]
        assert max(checker.batches) > 1  # the questions written while the child worked went together

        checker.proc.kill()  # a dead child: the next check starts another and still gets its verdict
        await checker.proc.wait()
        assert await verdict(checker, PROMPTS[1]) == alone[PROMPTS[1]]
    finally:
        await checker.close()


def test_concurrent_prompts_are_batched_and_each_gets_its_own_verdict():
    asyncio.run(run_checks())
