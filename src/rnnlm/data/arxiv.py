"""`rnnlm corpus arxiv`: the lecture's data set (arXiv abstracts) from the public arXiv API.

Pages of an Atom feed, oldest first so that page offsets stay put while new papers arrive;
the pause between requests that the API's terms ask for (3 s); retries with exponential
backoff on 5xx answers, timeouts, dropped connections and malformed or spuriously empty
pages; one abstract per line with its whitespace normalized, and its id on the same line of
a sidecar file FILE.ids. Re-running resumes: it repairs a torn last line, starts at the page
where it stopped and appends only ids it does not have.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnlm.errors import RnnlmError

API_URL = "http://export.arxiv.org/api/query"
ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


@dataclass
class Page:
    """One page of results: (id, abstract) pairs and the total the query matches."""

    entries: list[tuple[str, str]]
    total: int


class Retry(Exception):
    """A failure worth trying again (server error, timeout, bad or empty page)."""


def parse_page(data: bytes) -> Page:
    """Atom XML → Page; a page that is not Atom raises Retry."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise Retry(f"malformed page ({e})") from None
    if root.tag != ATOM + "feed":
        raise Retry(f"not an Atom feed (root element {root.tag})")
    total = root.findtext(OPENSEARCH + "totalResults")
    entries = []
    for entry in root.iter(ATOM + "entry"):
        link, summary = entry.findtext(ATOM + "id"), entry.findtext(ATOM + "summary")
        if not link or summary is None:
            continue  # the API's error entries carry no abstract
        paper = link.rstrip("/").split("/abs/")[-1].rsplit("v", 1)[0]  # 1407.1234v2 → 1407.1234
        entries.append((paper, " ".join(summary.split())))
    return Page(entries, int(total) if total and total.isdigit() else 0)


def repair(out: Path, ids_file: Path) -> list[str]:
    """The ids already saved; drops a torn last line and abstracts that lack their id."""
    ids = ids_file.read_text(encoding="utf-8").split("\n") if ids_file.exists() else []
    if ids and ids[-1] == "":
        ids.pop()
    elif ids:
        ids.pop()  # torn: no newline after it
    lines = out.read_text(encoding="utf-8").split("\n") if out.exists() else []
    lines = lines[: len(ids)]
    if len(lines) < len(ids):
        ids = ids[: len(lines)]
    out.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    ids_file.write_text("".join(x + "\n" for x in ids), encoding="utf-8")
    return ids


@dataclass
class ArxivClient:
    """Polite, retrying access to an arXiv-API-compatible endpoint."""

    api_url: str = API_URL
    delay: float = 3.0  # seconds between requests (the API's terms)
    timeout: float = 30.0
    retries: int = 5
    log: Callable[[str], None] = print
    _last: float = 0.0

    def _get(self, params: dict[str, str | int]) -> bytes:
        wait = self._last + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()
        url = f"{self.api_url}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            if e.code >= 500 or e.code == 429:
                raise Retry(f"HTTP {e.code}") from None
            raise RnnlmError(f"the arXiv API at {self.api_url} refused the request (HTTP "
                             f"{e.code}: {e.reason}); check --query") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            raise Retry(f"no answer ({getattr(e, 'reason', e)})") from None

    def page(self, query: str, start: int, size: int) -> Page:
        """One page of results, retried with backoff; an empty page before the end retries."""
        params = {"search_query": query, "start": start, "max_results": size,
                  "sortBy": "submittedDate", "sortOrder": "ascending"}
        for attempt in range(self.retries + 1):
            try:
                page = parse_page(self._get(params))
                if not page.entries and start < page.total:
                    raise Retry(f"empty page at {start} of {page.total}")
                return page
            except Retry as e:
                if attempt == self.retries:
                    raise RnnlmError(f"the arXiv API at {self.api_url} failed {attempt + 1} "
                                     f"times at offset {start} (last: {e}); run the same "
                                     f"command again later: it resumes") from None
                backoff = self.delay * 2 ** attempt
                self.log(f"  {e}; retrying in {backoff:.0f}s")
                time.sleep(backoff)
        raise AssertionError("unreachable")


def build_arxiv(query: str, max_results: int, out: str | Path, api_url: str = API_URL,
                page_size: int = 100, delay: float = 3.0, timeout: float = 30.0,
                retries: int = 5, log: Callable[[str], None] = print) -> int:
    """Append abstracts matching query to out (ids to out.ids) until it holds max_results or
    the query runs out; return how many abstracts were added."""
    if max_results < 1 or page_size < 1:
        raise RnnlmError("--max and --page-size must be 1 or more")
    out = Path(out)
    if not out.parent.exists():
        raise RnnlmError(f"the folder {out.parent} does not exist; create it or choose --out")
    ids_file = out.with_name(out.name + ".ids")
    ids = repair(out, ids_file)
    seen = set(ids)
    client = ArxivClient(api_url, delay, timeout, retries, log)
    start, added = len(ids) // page_size * page_size, 0
    with open(out, "a", encoding="utf-8") as texts, open(ids_file, "a", encoding="utf-8") as idf:
        while len(seen) < max_results:
            page = client.page(query, start, page_size)
            if not page.entries:
                break
            for paper, abstract in page.entries:
                if paper in seen or not abstract or len(seen) >= max_results:
                    continue
                texts.write(abstract + "\n")
                texts.flush()
                idf.write(paper + "\n")  # the id last: an abstract without one is dropped
                idf.flush()
                seen.add(paper)
                added += 1
            start += len(page.entries)
            log(f"  {len(seen):,} abstracts (of {min(max_results, page.total):,})")
            if page.total and start >= page.total:
                break
    return added
