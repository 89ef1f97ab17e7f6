"""A reader's visit to the built book: headless Chromium opens every page of `_toc.yml` on a wide and on a
phone-sized screen, and lists every problem a reader would meet, each naming its page and screen.

    python -m eep_utils.book.browse          # the quick build (_build/quick/_build/html)
    python -m eep_utils.book.browse --full   # the full build

It serves the HTML on 127.0.0.1 and lets no request leave this machine (the book's external fonts and
scripts are refused, as a reader offline would see it). A full-page screenshot of each page on each screen
is saved as `_build/<mode>/screenshots/<page>-<width>.png`, for reviewers. Exits non-zero when it finds a
problem. Needs playwright (requirements-test.txt) and Debian's Chromium.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import yaml

from eep_utils.book.build import build_dir, html_dir
from eep_utils.book.config import ROOT

# A wide desktop window and a phone (iPhone 12-15 in CSS pixels).
VIEWPORTS = ((1400, 900), (390, 844))
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# What a reader must see on the introduction before scrolling more than a screen: the abstract and a figure.
OPENING_SCREENS = 2

# The in-page checks, run in the browser once a page has loaded. Each returns [kind, detail] pairs.
#  - The document is wider than the window: the page scrolls sideways.
#  - A code block, table, output or figure is wider inside than its box (it scrolls or is cut), or reaches
#    past the window's right edge. Of nested offenders only the innermost is named: it is the cause.
#  - An image that did not load; error output (a traceback, or stderr, in Jupyter's output classes).
#  - On the introduction, the abstract and the first image start within the opening screens.
PAGE_CHECKS = r"""
([width, height, isIntroduction, openingScreens]) => {
  const problems = [];
  const describe = (el) => {
    const classes = [...el.classList].slice(0, 3).map(c => "." + c).join("");
    const text = (el.textContent || el.getAttribute("src") || "").replace(/\s+/g, " ").trim().slice(0, 60);
    return `<${el.tagName.toLowerCase()}${classes}> "${text}"`;
  };
  // Off-canvas drawers (the phone's page contents) are laid out but hidden: a reader never sees them.
  const shown = (el) => el.getClientRects().length > 0 && el.getBoundingClientRect().width > 0
    && el.checkVisibility({checkVisibilityCSS: true});
  const innermost = (els) => els.filter(el => !els.some(other => other !== el && el.contains(other)));
  const pastEdge = (el) => el.getBoundingClientRect().right > width + 1;
  const overflows = (el) => el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
  const doc = document.documentElement;
  if (doc.scrollWidth > width) {
    const causes = innermost([...document.body.querySelectorAll("*")].filter(el => shown(el) && (pastEdge(el) || overflows(el))));
    problems.push(["sideways", `the page scrolls sideways: ${doc.scrollWidth} px wide in a ${width} px window`
      + (causes.length ? `; first cause: ${causes.slice(0, 3).map(describe).join(", ")}` : "")]);
  }
  const kinds = "pre, table, figure, img, .cell_output, .output, .highlight, .pst-scrollable-table-container";
  const scrolling = [...document.querySelectorAll("main *")].filter(el =>
    ["auto", "scroll", "hidden"].includes(getComputedStyle(el).overflowX));
  const candidates = [...new Set([...document.querySelectorAll(kinds), ...scrolling])].filter(shown);
  for (const el of innermost(candidates.filter(el => overflows(el) || pastEdge(el)))) {
    problems.push(["too wide", overflows(el)
      ? `too wide for its box: content ${el.scrollWidth} px in ${el.clientWidth} px: ${describe(el)}`
      : `reaches past the window's right edge (${Math.round(el.getBoundingClientRect().right)} px > ${width} px): ${describe(el)}`]);
  }
  for (const img of document.querySelectorAll("img")) {
    if (img.complete && img.naturalWidth === 0) problems.push(["image", `image does not load: ${img.getAttribute("src")}`]);
  }
  const errors = document.querySelectorAll(
    ".output.traceback, .output.stderr, .output_error, .output_stderr, [data-mime-type='application/vnd.jupyter.stderr']");
  for (const el of errors) {
    // Name the warning or error itself, not the file path that opens its first line.
    const named = el.textContent.match(/\w*(?:Warning|Error|Exception)\b[^\n]*/);
    problems.push(["error output", `error output shown: ${named ? named[0].slice(0, 120) : describe(el)}`]);
  }
  if (document.body.textContent.includes("Traceback (most recent call last)")) {
    problems.push(["error output", "a Python traceback is shown"]);
  }
  if (isIntroduction) {
    const limit = openingScreens * height;
    for (const [selector, name] of [[".abstract", "the abstract (class `abstract`)"], ["main img", "a figure (img)"]]) {
      const el = document.querySelector(selector);
      const top = el ? el.getBoundingClientRect().top + window.scrollY : null;
      if (top === null) problems.push(["opening", `${name} is missing`]);
      else if (top >= limit) problems.push(["opening", `${name} starts at ${Math.round(top)} px, not within the first ${openingScreens} screens (${limit} px)`]);
    }
  }
  return problems;
}
"""


@dataclass(frozen=True)
class Problem:
    page: str
    viewport: str  # "1400x900"; empty for a problem of the book as a whole (a broken link)
    kind: str  # sideways, too wide, image, http, error output, opening, link
    detail: str

    def __str__(self) -> str:
        where = f"{self.page} at {self.viewport}" if self.viewport else self.page
        return f"{where}: {self.detail}"


def toc_pages(root: Path = ROOT) -> list[str]:
    """The book's pages in reading order, the root (the introduction) first."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [toc["root"]] + [chapter["file"] for chapter in toc["chapters"]]


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
    raise RuntimeError("the page check needs Chromium: install Debian's `chromium` package")


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """The folder over HTTP on 127.0.0.1 (a free port); yields its base address."""
    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def screenshot_path(screenshots: Path, page: str, width: int) -> Path:
    return screenshots / f"{Path(page).name}-{width}.png"


def check_pages(html: Path, pages: list[str], screenshots: Path) -> list[Problem]:
    """Visit each page (`pages[0]` is the introduction) on each screen; every problem found, all at once."""
    from playwright.sync_api import sync_playwright

    screenshots.mkdir(parents=True, exist_ok=True)
    for old in screenshots.glob("*.png"):  # a page dropped from the book leaves no stale screenshot behind
        old.unlink()
    problems: list[Problem] = []
    links: dict[str, set[tuple[str, str]]] = {}  # target address → {(page, fragment)}
    ids: dict[str, set[str]] = {}  # visited page address → its element ids
    with serve(html) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        for width, height in VIEWPORTS:
            problems += _visit_on_screen(browser, base, pages, (width, height), screenshots, links, ids)
        browser.close()
    for target, sources in sorted(links.items()):
        path = html / urlparse(target).path.lstrip("/")
        if not (path.is_file() or (path / "index.html").is_file()):
            problems += [Problem(name, "", "link", f"broken link: {target}") for name, _ in sorted(sources)]
        elif target in ids:
            problems += [Problem(name, "", "link", f"link to a missing anchor: {target}#{fragment}")
                         for name, fragment in sorted(sources) if fragment and fragment not in ids[target]]
    return problems


def _visit_on_screen(browser, base: str, pages: list[str], size: tuple[int, int], screenshots: Path,
                     links: dict[str, set[tuple[str, str]]], ids: dict[str, set[str]]) -> list[Problem]:
    """One screen size: the in-page checks and a screenshot of each page; its links and ids are collected."""
    width, height = size
    viewport = f"{width}x{height}"
    problems = []
    page = browser.new_page(viewport={"width": width, "height": height})
    # Nothing beyond this machine is reached: external fonts and scripts are refused.
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base + "/")
               else route.abort())
    failed = []
    page.on("response", lambda response: failed.append(response) if response.status >= 400 else None)
    for name in pages:
        address = f"{base}/{name}.html"
        page.goto(address, wait_until="load")
        page.evaluate("document.fonts.ready")
        found = page.evaluate(PAGE_CHECKS, [width, height, name == pages[0], OPENING_SCREENS])
        problems += [Problem(name, viewport, kind, detail) for kind, detail in found]
        problems += [Problem(name, viewport, "http", f"HTTP {r.status}: {r.url}") for r in failed]
        failed.clear()
        page.screenshot(path=str(screenshot_path(screenshots, name, width)), full_page=True)
        ids[address] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            if href.startswith(base + "/"):
                target, _, fragment = href.partition("#")
                links.setdefault(target, set()).add((name, fragment))
    page.close()
    return problems


def playwright_missing() -> str | None:
    """How to install playwright when it is missing (the build's requirements do not include it), else None."""
    try:
        import playwright  # noqa: F401  (a test requirement: only whether it is installed is checked here)
    except ImportError:
        return ("playwright is not installed: the book's build does not need it, this check does. Install the "
                "test requirements, which include it: python -m pip install -r requirements-test.txt")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="check the full build (default: the quick build)")
    args = parser.parse_args(argv)
    missing = playwright_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    mode = "full" if args.full else "quick"
    html = html_dir(mode)
    if not (html / "index.html").is_file():
        print(f"no built book at {html}: build it with python -m eep_utils.build"
              + ("" if args.full else " --quick"), file=sys.stderr)
        return 2
    screenshots = build_dir(mode) / "screenshots"
    problems = check_pages(html, toc_pages(), screenshots)
    for problem in problems:
        print(problem)
    pages = toc_pages()
    print(f"{len(problems)} problem(s) on {len(pages)} pages at {', '.join(f'{w}x{h}' for w, h in VIEWPORTS)}; "
          f"screenshots in {screenshots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
