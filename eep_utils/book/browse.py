"""A reader's visit to the built book: headless Chromium opens every page of `_toc.yml` on a wide and on a
phone-sized screen, and lists every problem a reader would meet, each naming its page and screen.

    python -m eep_utils.book.browse          # the quick build (_build/quick/_build/html)
    python -m eep_utils.book.browse --full   # the full build

It serves the HTML on 127.0.0.1 and lets no request leave this machine (the book's external fonts and
scripts are refused, as a reader offline would see it). A full-page screenshot of each page on each screen
is saved as `_build/<mode>/screenshots/<page>-<width>.png`, for reviewers. Exits non-zero when it finds a
problem, and prints a summary line per page (its length in screens, code inputs shown, smallest figure text
and its problems counted by kind). Needs playwright (requirements-test.txt) and Debian's Chromium.

What a reader meets, checked on every page at both sizes: the page never scrolls sideways, nothing is cut
or too wide for its box (a wide table scrolls inside its own box), every image and request loads, no error
output or Python object's representation is printed, no word or number in a table cell is broken across
lines, and no link or anchor is broken. On the wide screen: every figure's text is at least 9 px as shown,
and each chapter is at most 8 screens long and shows at most 5 code inputs. The introduction shows its
abstract and its first visible figure within two screens, at both sizes.
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
from eep_utils.book.style import MIN_DISPLAYED_TEXT_PX

# A wide desktop window and a phone (iPhone 12-15 in CSS pixels).
VIEWPORTS = ((1400, 900), (390, 844))
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# What a reader must see on the introduction before scrolling more than a screen: the abstract and a figure.
OPENING_SCREENS = 2
# A chapter a reader finishes: its length in screens of the wide window, and the code inputs it shows
# unfolded (the rest are removed or folded with hide-input). Pages a reader consults rather than reads
# through are not held to these: the appendix (where details go), the references and how to cite.
CHAPTER_SCREENS = 8
CHAPTER_CODE_INPUTS = 5
CONSULTED_PAGES = ("notebooks/08_appendix", "references", "citing")
# A figure shown smaller than this is too small to be a figure (an icon, a logo in a button).
FIGURE_MIN_PX = (100, 50)

# The in-page checks, run in the browser once a page has loaded. Each returns [kind, detail] pairs.
#  - The document is wider than the window: the page scrolls sideways.
#  - A code block, table, output or figure is wider inside than its box (it scrolls or is cut), or reaches
#    past the window's right edge. Of nested offenders only the innermost is named: it is the cause. A table
#    that scrolls sideways inside its own box is how a wide table is meant to fit, and is not one.
#  - An image that did not load; error output (a traceback, or stderr, in Jupyter's output classes).
#  - A word or number in a table cell broken across lines (each word's Range gives one rectangle per line).
#  - A text output that is a Python object's representation (a matplotlib return value printed by accident).
#  - Figure text too small as shown: an SVG figure's every label is measured at the size it is displayed
#    (its font size × the displayed width / the drawn width); a matplotlib figure saved as a raster image,
#    or an SVG whose text is drawn as paths, cannot be measured and is named. Held to its floor on the wide
#    screen; on the phone it is measured for the summary.
#  - On the introduction, the abstract and the first visible figure start within the opening screens.
#  - On a chapter, its length in screens and the code inputs it shows (checked on the wide screen only).
# It also returns what it measured (screens, code inputs, smallest figure text) for the summary.
PAGE_CHECKS = r"""
async ([width, height, isIntroduction, openingScreens, chapter, minTextPx, figureMinPx]) => {
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
  const scrollsSideways = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const tableScroller = (el) => scrollsSideways(el) && !pastEdge(el) && (el.tagName === "TABLE"
    || (el.children.length === 1 && el.children[0].tagName === "TABLE"));
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
  const tooWide = candidates.filter(el => overflows(el) || pastEdge(el));
  for (const el of innermost(tooWide).filter(el => !tableScroller(el))) {
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

  // Words: a word with the dash after it (a line may break after a hyphen or a dash, as in print: "17.91–"
  // then "19.68" breaks a range between its numbers, not a number).
  for (const cell of document.querySelectorAll("main td, main th")) {
    if (!shown(cell)) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const word of node.data.matchAll(/[^\s\-\u2010-\u2014]+[\-\u2010-\u2014]?/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const rects = [...range.getClientRects()].filter(r => r.width > 0).sort((a, b) => a.top - b.top);
        const lines = rects.filter((r, i) => i === 0 || r.top - rects[i - 1].top > r.height / 2).length;
        if (lines > 1) {
          const row = cell.closest("tr");
          const label = row && row.firstElementChild !== cell ? ` (row "${row.firstElementChild.textContent.trim().slice(0, 30)}")` : "";
          problems.push(["broken word", `"${word[0]}" is broken across ${lines} lines in a table cell${label}`]);
        }
      }
    }
  }

  const reprs = [
    /\bText\(-?[\d.e+-]+, -?[\d.e+-]+, ['"][^\n]{0,60}/, /<Figure size [\d.]+x[\d.]+ with \d+ Axes>/, /<Axes: [^\n]{0,60}>/,
    /<\w+ object of \d+ artists>/, /<[\w.]+(?: object)? at 0x[0-9a-fA-F]+>/, /<matplotlib\.[\w.]+[^\n]{0,60}/,
  ];
  for (const el of document.querySelectorAll(".output.text_plain, .output.stream, [data-mime-type='text/plain']")) {
    if (!shown(el)) continue;
    const found = reprs.map(pattern => el.textContent.match(pattern)).find(Boolean);
    if (found) problems.push(["object repr", `a Python object's representation is printed: ${found[0].slice(0, 100)}`]);
  }

  const figures = [...document.querySelectorAll("main img")].filter(img => shown(img)
    && img.getBoundingClientRect().width >= figureMinPx[0] && img.getBoundingClientRect().height >= figureMinPx[1]);
  const smallest = [];
  for (const img of figures) {
    const shownWidth = img.getBoundingClientRect().width;
    const name = (img.getAttribute("src") || "").split("/").pop();
    const response = await fetch(img.currentSrc || img.src);
    if (!response.ok) continue;
    const type = response.headers.get("content-type") || "";
    if (type.includes("svg") || /\.svg$/.test(new URL(img.currentSrc || img.src).pathname)) {
      const svg = new DOMParser().parseFromString(await response.text(), "image/svg+xml").documentElement;
      if (svg.nodeName !== "svg") continue;
      // Drawn in a hidden box at its displayed size: each label's font size × its transform's scale is its
      // size on the screen, however the file nests its groups.
      if (!svg.getAttribute("viewBox")) svg.setAttribute("viewBox", `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
      svg.setAttribute("width", shownWidth);
      svg.setAttribute("height", img.getBoundingClientRect().height);
      const box = document.createElement("div");
      box.style.cssText = "position: absolute; left: -100000px; top: 0; visibility: hidden;";
      box.appendChild(document.importNode(svg, true));
      document.body.appendChild(box);
      const labels = [...box.querySelectorAll("text, tspan")].filter(t =>
        [...t.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.data.trim()));
      const sizes = labels.map(t => {
        const m = t.getScreenCTM();
        return [parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b), t.textContent.trim()];
      }).sort((a, b) => a[0] - b[0]);
      const asPaths = !labels.length && box.querySelector("[id^='text_'], use") !== null;
      box.remove();
      if (asPaths && minTextPx !== null) {
        problems.push(["figure text", `figure ${name}: its text is drawn as paths, so its size cannot be measured; `
          + "save SVG with svg.fonttype none (eep_utils.book.style.use_book_style())"]);
      } else if (sizes.length) {
        smallest.push(sizes[0][0]);
        if (minTextPx !== null && sizes[0][0] < minTextPx) {
          const under = sizes.filter(s => s[0] < minTextPx);
          problems.push(["figure text", `figure ${name}: ${under.length} of ${sizes.length} labels are under ${minTextPx} px as `
            + `shown (${Math.round(shownWidth)} px wide), the smallest ${sizes[0][0].toFixed(1)} px: "${sizes[0][1].slice(0, 40)}"`]);
        }
      }
    } else if (type.includes("png") && minTextPx !== null) {
      // matplotlib signs its PNGs (a tEXt chunk, "Software: Matplotlib") ahead of the pixels.
      const head = new TextDecoder("latin1").decode((await response.arrayBuffer()).slice(0, 4096));
      if (head.includes("Matplotlib")) {
        problems.push(["figure text", `figure ${name}: a matplotlib figure saved as a raster image (PNG), shown at `
          + `${Math.round(100 * shownWidth / img.naturalWidth)}% of its pixels: its text size cannot be measured; draw `
          + "it with eep_utils.book.style.use_book_style() (SVG, text kept as text)"]);
      }
    }
  }

  if (isIntroduction) {
    const limit = openingScreens * height;
    const figure = figures[0] || null;
    const abstract = document.querySelector(".abstract");
    for (const [el, name] of [[abstract, "the abstract (class `abstract`)"], [figure, "a visible figure"]]) {
      const top = el ? el.getBoundingClientRect().top + window.scrollY : null;
      if (top === null) problems.push(["opening", `${name} is missing`]);
      else if (top >= limit) problems.push(["opening", `${name} starts at ${Math.round(top)} px, not within the first ${openingScreens} screens (${limit} px)`]);
    }
  }
  const screens = doc.scrollHeight / height;
  const codeInputs = [...document.querySelectorAll(".cell_input")].filter(shown).length;
  if (chapter) {
    if (screens > chapter.screens) {
      problems.push(["length", `the page is ${screens.toFixed(1)} screens long, more than ${chapter.screens}`]);
    }
    if (codeInputs > chapter.codeInputs) {
      problems.push(["code inputs", `${codeInputs} code inputs are shown, more than ${chapter.codeInputs} (remove the others or fold them with hide-input)`]);
    }
  }
  return {problems, measures: {screens, codeInputs, smallestFigureText: smallest.length ? Math.min(...smallest) : null}};
}
"""


@dataclass(frozen=True)
class Problem:
    page: str
    viewport: str  # "1400x900"; empty for a problem of the book as a whole (a broken link)
    # sideways, too wide, image, http, error output, link; broken word, object repr, figure text; opening
    # (the introduction); length, code inputs (a chapter)
    kind: str
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


@dataclass(frozen=True)
class Measures:
    """What a reader meets on a page at one screen size, for the summary."""
    screens: float  # the page's length in screens of this window's height
    code_inputs: int  # code inputs shown unfolded
    smallest_figure_text: float | None  # the smallest label of its SVG figures as shown, in CSS px


@dataclass
class Visit:
    problems: list[Problem]
    measures: dict[tuple[str, str], Measures]  # (page, viewport) → what was measured there


def chapters_of(pages: list[str]) -> list[str]:
    """The pages held to a chapter's length and code inputs: all but those a reader consults."""
    return [page for page in pages if page not in CONSULTED_PAGES]


def check_pages(html: Path, pages: list[str], screenshots: Path, chapters: list[str] | None = None) -> list[Problem]:
    """Visit each page (`pages[0]` is the introduction) on each screen; every problem found, all at once.
    `chapters` (default: every page but the appendix, references and how to cite) are held to a chapter's
    length and number of code inputs."""
    return visit(html, pages, screenshots, chapters).problems


def visit(html: Path, pages: list[str], screenshots: Path, chapters: list[str] | None = None) -> Visit:
    """check_pages, with what was measured on each page at each screen size."""
    from playwright.sync_api import sync_playwright

    chapters = chapters_of(pages) if chapters is None else chapters
    screenshots.mkdir(parents=True, exist_ok=True)
    for old in screenshots.glob("*.png"):  # a page dropped from the book leaves no stale screenshot behind
        old.unlink()
    result = Visit([], {})
    links: dict[str, set[tuple[str, str]]] = {}  # target address → {(page, fragment)}
    ids: dict[str, set[str]] = {}  # visited page address → its element ids
    with serve(html) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_FLAGS)
        for width, height in VIEWPORTS:
            _visit_on_screen(browser, base, pages, chapters, (width, height), screenshots, result, links, ids)
        browser.close()
    for target, sources in sorted(links.items()):
        path = html / urlparse(target).path.lstrip("/")
        if not (path.is_file() or (path / "index.html").is_file()):
            result.problems += [Problem(name, "", "link", f"broken link: {target}") for name, _ in sorted(sources)]
        elif target in ids:
            result.problems += [Problem(name, "", "link", f"link to a missing anchor: {target}#{fragment}")
                                for name, fragment in sorted(sources) if fragment and fragment not in ids[target]]
    return result


def _visit_on_screen(browser, base: str, pages: list[str], chapters: list[str], size: tuple[int, int],
                     screenshots: Path, result: Visit, links: dict[str, set[tuple[str, str]]],
                     ids: dict[str, set[str]]) -> None:
    """One screen size: the in-page checks and a screenshot of each page; its links and ids are collected.
    A chapter's length, code inputs and figure text are held to their limits on the wide screen (the first)."""
    width, height = size
    viewport = f"{width}x{height}"
    wide = size == VIEWPORTS[0]
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
        limits = {"screens": CHAPTER_SCREENS, "codeInputs": CHAPTER_CODE_INPUTS} if wide and name in chapters else None
        found = page.evaluate(PAGE_CHECKS, [width, height, name == pages[0], OPENING_SCREENS, limits,
                                            MIN_DISPLAYED_TEXT_PX if wide else None, FIGURE_MIN_PX])
        result.problems += [Problem(name, viewport, kind, detail) for kind, detail in found["problems"]]
        result.problems += [Problem(name, viewport, "http", f"HTTP {r.status}: {r.url}") for r in failed]
        measured = found["measures"]
        result.measures[name, viewport] = Measures(measured["screens"], measured["codeInputs"],
                                                   measured["smallestFigureText"])
        failed.clear()
        page.screenshot(path=str(screenshot_path(screenshots, name, width)), full_page=True)
        ids[address] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            if href.startswith(base + "/"):
                target, _, fragment = href.partition("#")
                links.setdefault(target, set()).add((name, fragment))
    page.close()


def summary(result: Visit, pages: list[str]) -> str:
    """One line per page: its length and code inputs, its smallest figure text at each width, and its
    problems counted by kind."""
    viewports = [f"{w}x{h}" for w, h in VIEWPORTS]
    lines = []
    for name in pages:
        measured = [result.measures.get((name, v)) for v in viewports]
        screens = " / ".join(f"{m.screens:.1f}" if m else "-" for m in measured)
        text = " / ".join(f"{m.smallest_figure_text:.1f}" if m and m.smallest_figure_text else "-" for m in measured)
        inputs = measured[0].code_inputs if measured[0] else "-"
        kinds: dict[str, int] = {}
        for problem in result.problems:
            if problem.page == name:
                kinds[problem.kind] = kinds.get(problem.kind, 0) + 1
        counted = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())) or "none"
        lines.append(f"{name}: {screens} screens, {inputs} code inputs shown, smallest figure text {text} px "
                     f"(at {' / '.join(viewports)}); problems: {counted}")
    return "\n".join(lines)


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
    pages = toc_pages()
    result = visit(html, pages, screenshots)
    for problem in result.problems:
        print(problem)
    print(summary(result, pages))
    print(f"{len(result.problems)} problem(s) on {len(pages)} pages at "
          f"{', '.join(f'{w}x{h}' for w, h in VIEWPORTS)}; screenshots in {screenshots}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
