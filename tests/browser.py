"""Open local HTML pages in headless Chromium from the tests: the rendered DOM, or a screenshot.

A small shared helper (no pip dependency: it runs the Debian ``chromium``
binary, which `.ci/run` installs). Tests call `require_chromium` first, which
skips the test with a clear reason where no browser is installed.

    from browser import render_dom, screenshot
    dom = render_dom(page)                    # the DOM after scripts ran (virtual time)
    screenshot(page, tmp_path / "page.png")   # look at it with an image viewer

The page is loaded from ``file://`` with networking features of the browser
turned off, in a throw-away profile, so a test can also check that a page
needs nothing from the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Executables tried in order; ``S2SBENCH_CHROMIUM`` (a path or a name) comes first."""

BASE_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests often run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserError(RuntimeError):
    """Chromium ran but did not give what was asked (its stderr is in the message)."""


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome executable, or None."""
    override = os.environ.get("S2SBENCH_CHROMIUM")
    for name in ([override] if override else []) + list(CANDIDATES):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The Chromium path, or skip the calling test saying why (pytest)."""
    import pytest

    path = find_chromium()
    if path is None:
        pytest.skip(
            "headless Chromium is not installed (tried S2SBENCH_CHROMIUM, "
            + ", ".join(CANDIDATES)
            + "); install Debian's `chromium` package (.ci/run does) to run the browser checks."
        )
    return path


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    binary = find_chromium()
    if binary is None:
        raise BrowserError("no Chromium executable found; call require_chromium() first.")
    with tempfile.TemporaryDirectory(prefix="s2sbench-chromium-") as profile:
        cmd = [binary, *BASE_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as err:
            raise BrowserError(f"Chromium did not finish within {timeout} s: {' '.join(cmd)}") from err


def _url(html_path: str | os.PathLike) -> str:
    path = Path(html_path)
    if not path.is_file():
        raise FileNotFoundError(path)
    return path.resolve().as_uri()


def render_dom(html_path: str | os.PathLike, budget_ms: int = 5000, *, timeout: float = 90.0) -> str:
    """The serialized DOM of a local page after its scripts ran for ``budget_ms`` of virtual time.

    ``load`` handlers have run by then, so attributes that a page's script sets
    once everything loaded (e.g. ``data-images-loaded`` on <body>) show up.
    """
    proc = _run([f"--virtual-time-budget={int(budget_ms)}", "--dump-dom", _url(html_path)], timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout.lower():
        raise BrowserError(f"chromium --dump-dom failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def screenshot(
    html_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    width: int = 1280,
    height: int = 1600,
    budget_ms: int = 5000,
    timeout: float = 90.0,
) -> Path:
    """Save a PNG of a local page rendered at ``width`` x ``height``; return its path."""
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    proc = _run(
        [
            f"--virtual-time-budget={int(budget_ms)}",
            f"--window-size={int(width)},{int(height)}",
            f"--screenshot={png_path}",
            _url(html_path),
        ],
        timeout,
    )
    if proc.returncode != 0 or not png_path.is_file() or png_path.stat().st_size == 0:
        raise BrowserError(f"chromium --screenshot failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png_path
