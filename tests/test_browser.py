"""A reader's visit: headless Chromium opens every page of the quick-mode book served on 127.0.0.1."""
import functools
import os
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from conftest import HTML, toc_pages

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_executable() -> str:
    """Debian's Chromium, installed on first use where this machine allows it (root with apt)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        return shutil.which("chromium")
    pytest.fail("Chromium is needed for the browser test: install Debian's `chromium` package")


@pytest.fixture(scope="module")
def served_book(quick_book):
    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.slow
@pytest.mark.browser
def test_every_chapter_renders_with_its_figures_and_links(served_book):
    from playwright.sync_api import sync_playwright

    screenshots = HTML.parent.parent / "screenshots"
    screenshots.mkdir(exist_ok=True)
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        # The test reaches nothing beyond this machine: external fonts and scripts are refused.
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(served_book)
                   else route.abort())
        failed_requests = []
        page.on("response", lambda r: failed_requests.append(r.url) if r.status >= 400 else None)
        internal_links = set()
        for name in toc_pages():
            page.goto(f"{served_book}/{name}.html", wait_until="load")
            text = page.inner_text("body")
            if "Traceback (most recent call last)" in text:
                problems.append(f"{name}: a Python traceback is shown")
            broken_images = page.eval_on_selector_all(
                "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
            problems += [f"{name}: image does not load: {src}" for src in broken_images]
            for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
                if href.startswith(served_book):
                    internal_links.add(href.split("#")[0])
            page.screenshot(path=str(screenshots / f"{name.replace('/', '_')}.png"), full_page=True)
        for href in sorted(internal_links):
            path = HTML / urlparse(href).path.lstrip("/")
            if not (path.is_file() or (path / "index.html").is_file()):
                problems.append(f"broken internal link: {href}")
        browser.close()
    problems += [f"request failed: {url}" for url in failed_requests]
    assert not problems, "\n".join(problems)
    assert len(list(screenshots.glob("*.png"))) >= len(toc_pages())
