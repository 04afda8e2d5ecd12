"""The web page end to end in a real browser (Debian's chromium, driven by Playwright): submit a prompt,
watch its progress, play the finished video, read the caption the model saw (the tiny model with the world
prompt expander), then remix and extend it; a screenshot is saved. Then the storyboard editor (two shots
rendered as one video) and image-to-video from an uploaded image."""

from __future__ import annotations

import io
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from haneul.serve.testing import expanding_model_dir, start_api

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
KEY = "sk-web-0123456789abcdef"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium absent (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = expanding_model_dir(tmp_path_factory.getbasetemp())
    data = tmp_path_factory.mktemp("serve-web")
    # 60 steps: sampling lasts long enough on a quiet machine for the page (refreshing every 0.5 s) to show progress
    extra = ["--num-steps", "60", "--rate-limit", "100000", "--max-seconds", "4"]
    # workers=None: `haneul serve` with no --workers starts its one local worker by default
    proc, url = start_api(data, [KEY], [f"sora-2={model}"], workers=None, extra=extra)
    yield SimpleNamespace(url=url.removesuffix("/v1"), data=data)
    proc.stop()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        browser.close()
        assert not errors, errors


def test_prompt_progress_play_remix_extend(server, page, tmp_path):
    page.goto(f"{server.url}/#key={KEY}")
    page.wait_for_selector("#status:has-text('ready')")
    assert KEY not in page.url  # the key leaves the address bar
    page.fill("#prompt", "a red ball bounces on green grass near a zebra")
    page.select_option("#size", "96x64")
    page.select_option("#seconds", "2")
    page.fill("#seed", "7")
    page.click("#generate")

    # live progress: the job row moves through in_progress with a rising percentage
    page.wait_for_selector("#jobs tbody tr.in_progress", timeout=180_000)
    page.wait_for_function(
        "() => { const p = document.querySelector('#jobs tbody tr.in_progress progress'); return p && p.value > 0; }",
        timeout=180_000,
    )
    card = page.wait_for_selector("#gallery .card video", timeout=300_000)
    played = page.evaluate(
        """async () => {
            const v = document.querySelector('#gallery .card video');
            if (v.readyState < 1) await new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}));
            await v.play();
            await new Promise(r => setTimeout(r, 600));
            return {time: v.currentTime, width: v.videoWidth, height: v.videoHeight, duration: v.duration,
                    error: v.error && v.error.code};
        }"""
    )
    assert played["error"] is None and (played["width"], played["height"]) == (96, 64), played
    assert played["time"] > 0 and played["duration"] > 1.5, played
    assert card.is_visible()
    page.click("#gallery .card .seen summary")  # what the model saw: the expanded caption, words left out
    seen = page.inner_text("#gallery .card .seen")
    assert "red ball" in seen and "green grass" in seen and "falls and bounces" in seen, seen
    assert "left out: near, zebra" in seen, seen
    shot = Path(os.environ.get("HANEUL_SCREENSHOT_DIR", tmp_path)) / "serve_web.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # remix and extend from the finished video: two new jobs that also reach the gallery
    page.fill("#gallery .card .remix-prompt", "the same ball, but blue")
    page.click("#gallery .card .remix")
    page.fill("#gallery .card .extend-prompt", "the ball rolls away")
    page.click("#gallery .card .extend")
    page.wait_for_function("() => document.querySelectorAll('#gallery .card').length === 3", timeout=300_000)
    rows = page.eval_on_selector_all("#jobs tbody tr", "rows => rows.map(r => r.className)")
    assert rows == ["completed"] * 3, rows
    page.screenshot(path=str(shot.with_name("serve_web_gallery.png")), full_page=True)


def test_storyboard_and_image_upload(server, page, tmp_path):
    page.goto(f"{server.url}/#key={KEY}")
    page.wait_for_selector("#status:has-text('ready')")

    # storyboard editor: two shots rendered as ONE video, the second continuing the first
    page.fill("#shots li:nth-child(1) .shot-prompt", "a red ball rolls in")
    page.click("#add-shot")
    page.fill("#shots li:nth-child(2) .shot-prompt", "a blue box falls")
    page.click("#render-one")

    # image-to-video: the uploaded picture is sent as input_reference
    image = np.zeros((64, 96, 3), np.uint8)
    image[:, :48] = (220, 30, 30)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    page.set_input_files(
        "#image", files=[{"name": "start.png", "mimeType": "image/png", "buffer": buffer.getvalue()}]
    )
    page.fill("#prompt", "the red half slides right")
    page.select_option("#size", "96x64")
    page.select_option("#seconds", "1")
    page.click("#generate")

    # wait for these two videos by their captions: a count alone can be met by a card of an earlier test's
    # job that finishes late
    page.wait_for_function(
        "() => { const t = [...document.querySelectorAll('#gallery .card figcaption')].map(f => f.textContent);"
        " return t.some(x => x.startsWith('a red ball rolls in / a blue box falls'))"
        " && t.some(x => x.startsWith('the red half slides right')); }",
        timeout=300_000,
    )
    cards = page.eval_on_selector_all(
        "#gallery .card",
        "cards => cards.map(c => ({id: c.dataset.id, text: c.querySelector('figcaption').textContent,"
        " href: c.querySelector('.download').href, name: c.querySelector('.download').download}))",
    )
    board = next(c for c in cards if c["text"].startswith("a red ball rolls in / a blue box falls"))
    assert "2 s" in board["text"], board  # 1 s + 1 s in one video
    animated = next(c for c in cards if c["text"].startswith("the red half slides right"))
    assert (server.data / "videos" / animated["id"] / "input.png").is_file()  # the upload reached the job
    assert animated["href"].startswith("blob:") and animated["name"] == f"{animated['id']}.mp4"  # download
    page.screenshot(
        path=str(Path(os.environ.get("HANEUL_SCREENSHOT_DIR", tmp_path)) / "serve_web_storyboard.png"),
        full_page=True,
    )
