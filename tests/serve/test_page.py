"""A real browser on the page at /: Playwright driving the distribution's Chromium (never a
browser download). Skipped only when no Chromium is installed and CI is not set; under CI it
must run. RNNLM_SCREENSHOTS=DIR writes the two views' screenshots there (docs/ for the
README)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.serve.conftest import running

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium() -> str:
    """The Chromium binary, or skip (fail under CI)."""
    found = os.environ.get("RNNLM_CHROMIUM") or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    if found is None:
        if CI:
            pytest.fail("no chromium binary: .ci/run installs the distribution's chromium")
        pytest.skip("no chromium binary (apt-get install chromium); CI is not set")
    return found


@pytest.fixture(scope="module")
def page(tiny_run: Path) -> Iterator[tuple[Page, str]]:
    """A browser page and the server's URL."""
    binary = chromium()
    with running([tiny_run]) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, headless=True)
        tab = browser.new_page(viewport={"width": 1100, "height": 760})
        tab.set_default_timeout(30_000)
        yield tab, url
        browser.close()


def screenshot(tab: Page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("RNNLM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(folder / name), full_page=True)
    assert (folder / name).stat().st_size > 5_000


def test_playground_streams_text(page: tuple[Page, str], tmp_path: Path) -> None:
    tab, url = page
    tab.goto(url + "/")
    tab.wait_for_function("document.getElementById('model').options.length > 0")
    assert tab.input_value("#model") == "tiny"
    tab.fill("#prompt", "ROMEO:")
    tab.fill("#max_tokens", "800")
    tab.fill("#seed", "3")
    tab.evaluate("""() => {  // count the times text is added to the output
        window.updates = 0;
        new MutationObserver(() => { window.updates += 1; }).observe(
            document.getElementById('output'), {childList: true, characterData: true});
    }""")
    tab.click("#generate")
    tab.wait_for_function("document.getElementById('output').textContent.length > 40")
    tab.wait_for_function("!document.getElementById('generate').disabled")
    text = tab.text_content("#output")
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 800
    assert tab.evaluate("window.updates") > 5  # it arrived in pieces: streamed
    tab.click("#curl")
    curl = tab.text_content("#curl-text")
    assert "/v1/completions" in curl and '"prompt":"ROMEO:"' in curl and "-N" in curl
    screenshot(tab, "serve-playground.png", tmp_path)


def test_inspector_colours_characters(page: tuple[Page, str], tmp_path: Path) -> None:
    tab, url = page
    tab.goto(url + "/")
    tab.wait_for_function("document.getElementById('model').options.length > 0")
    tab.click("#tab-inspect")
    speech = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak.\n"
    tab.fill("#inspect-text", speech)
    tab.click("#run-inspect")
    tab.wait_for_selector(".insp-tok")
    colours = tab.eval_on_selector_all(".insp-tok", "s => s.map(x => x.style.backgroundColor)")
    assert len(colours) == len(speech) and len(set(colours)) > 10  # by surprisal, not all alike
    tab.hover(".insp-tok >> nth=5")
    assert "bits" in tab.text_content(".insp-tip") and tab.is_visible(".insp-tip")
    tab.click(".insp-units button >> nth=1")  # the best-ranked unit
    assert tab.get_attribute("#inspection", "data-showing") == "unit"
    by_unit = tab.eval_on_selector_all(".insp-tok", "s => s.map(x => x.style.backgroundColor)")
    assert by_unit != colours
    screenshot(tab, "serve-inspector.png", tmp_path)


def test_the_shared_html_file_works_offline(page: tuple[Page, str], tiny_run: Path,
                                            tmp_path: Path) -> None:
    from rnnlm.verbs.inspect import inspect

    text = tmp_path / "t.txt"
    text.write_text("All:\nSpeak, speak.\n", encoding="utf-8")
    inspect(tiny_run, text=text, out=tmp_path / "view.html", device="cpu")
    tab, _ = page
    tab.goto((tmp_path / "view.html").as_uri())
    tab.wait_for_selector(".insp-tok")
    assert tab.eval_on_selector_all(".insp-tok", "s => s.length") == len("All:\nSpeak, speak.\n")
