#!/usr/bin/env python3
"""feedparser's own test files as a conformance test for `tidewatch feed parse`.

Every file states feedparser's expectation in its header (`Expect: <python expression>`). The
expression is split at its top-level `and`; the clauses about an entry's title, link,
summary/description/content or dates are checked against what Tidewatch reads from the file
(other clauses, such as `bozo` or feed-level metadata, are not Tidewatch's concern here). HTML is
compared as plain text: both sides are reduced to their visible text with whitespace collapsed.
Dates are compared as UTC time tuples, as feedparser's `*_parsed` fields are.

Every file, concerned or not, must be read without crashing. The pass rate over the concerned
files is printed, and must be at least 95%. Files Tidewatch deliberately reads differently are
listed in DIFFERENT with the reason and reported separately.

Usage: feed_conformance.py TIDEWATCH_BINARY FIXTURE_DIR [--verbose]
"""

import datetime
import html.parser
import json
import os
import re
import subprocess
import urllib.parse
import sys

# Files whose expectation Tidewatch deliberately does not meet, with the reason.
CRAZY = (
    "a whole HTML document with malformed script tags inside an entry: Tidewatch shows the visible "
    "text of its body; feedparser's sanitizer keeps the document's <title> and lets the script's "
    "source through as text"
)
DIFFERENT = {
    "wellformed/sanitize/entry_content_crazy.xml": CRAZY,
    "wellformed/sanitize/entry_summary_crazy.xml": CRAZY,
    "wellformed/sanitize/entry_title_crazy.xml": CRAZY,
    "wellformed/sanitize/item_content_encoded_crazy.xml": CRAZY,
    "wellformed/sanitize/item_description_crazy.xml": CRAZY,
    "wellformed/sanitize/item_fullitem_crazy.xml": CRAZY,
    "wellformed/sanitize/item_content_encoded_script_nested_cdata.xml": "a CDATA section nested in "
    "a CDATA section: the first ']]>' ends the outer one (XML); the rest is text",
    "encoding/bozo_linenoise.xml": "the file declares UTF-8 and has one invalid byte; Tidewatch keeps the "
    "declared encoding and replaces that byte (U+FFFD) instead of re-reading the whole document as "
    "Windows-1252 mojibake",
}

TEXT_FIELDS = {"title", "summary", "description"}
DATE_FIELDS = {"published", "updated", "created", "issued", "modified"}


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "noscript", "template", "iframe", "object", "head"):
            self.skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"):
            self.out.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "noscript", "template", "iframe", "object", "head") and self.skip:
            self.skip -= 1
        elif tag in ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"):
            self.out.append(" ")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def plain(s):
    """Visible text of an HTML fragment, whitespace collapsed."""
    p = _Text()
    try:
        p.feed(s)
        p.close()
        text = "".join(p.out)
    except Exception:
        text = s
    return " ".join(text.split())


def collapse(s):
    return " ".join(s.split())


class PlainStr(str):
    """Our plain text; equal to an expected value when their visible texts are equal."""

    def __eq__(self, other):
        # The expected value is HTML for html content and plain text for text content; either
        # reading may be meant, so either matching counts.
        if isinstance(other, str):
            ours = collapse(str(self))
            return ours == plain(other) or ours == collapse(other)
        return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = str.__hash__


class Obj(dict):
    """A dict that also answers attribute access, like feedparser's FeedParserDict."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError as e:
            raise AttributeError(k) from e

    def get(self, k, default=None):
        return dict.get(self, k, default)


def time_tuple(iso):
    if not iso:
        return None
    d = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(datetime.timezone.utc)
    return tuple(d.utctimetuple())


def entry_view(e):
    title = PlainStr(e.get("title") or "")
    summary = PlainStr(e.get("summary") or e.get("content") or "")
    content = PlainStr(e.get("content") or e.get("summary") or "")
    v = Obj(
        title=title,
        title_detail=Obj(value=title),
        link=e.get("url") or "",
        summary=summary,
        description=summary,
        summary_detail=Obj(value=summary),
        content=[Obj(value=content)],
    )
    published = time_tuple(e.get("published_at"))
    updated = time_tuple(e.get("updated_at"))
    if published:
        for k in ("published_parsed", "issued_parsed", "created_parsed"):
            v[k] = published
    if updated or published:
        for k in ("updated_parsed", "modified_parsed"):
            v[k] = updated or published
    return v


def split_and(expr):
    """Splits at top-level ` and ` (outside brackets and quotes)."""
    parts, depth, quote, start, i = [], 0, None, 0, 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and expr.startswith(" and ", i):
            parts.append(expr[start:i])
            start = i + 5
            i += 5
            continue
        i += 1
    parts.append(expr[start:])
    return [p.strip() for p in parts]


ACCESS = re.compile(r"entries\[(\d+)\]((?:\[[^\]]+\]|\.\w+)*)")


def concerns(clause):
    """True when the clause is only about entries' title, link, summary/description/content or
    date fields (and uses them in a way this harness can check)."""
    accesses = list(ACCESS.finditer(clause))
    if not accesses or "bozo" in clause:
        return False
    for m in accesses:
        keys = re.findall(r"\['([^']+)'\]|\[(\d+)\]|\.(\w+)", m.group(2))
        keys = [a or b or c for a, b, c in keys]
        if not keys:
            return False
        k = keys[0]
        if k in TEXT_FIELDS and len(keys) == 1:
            continue
        if k == "link" and len(keys) == 1:
            continue
        if k in ("title_detail", "summary_detail") and keys[1:] == ["value"]:
            continue
        if k == "content" and keys[1:] == ["0", "value"]:
            continue
        if k.endswith("_parsed") and k[: -len("_parsed")] in DATE_FIELDS and len(keys) == 1:
            continue
        return False
    return True


def header_comment(path):
    with open(path, "rb") as f:
        return f.read(4096).decode("utf-8", "replace")


def expectation(path):
    m = re.search(r"Expect:\s*(.*)", header_comment(path))
    return m.group(1).strip() if m else None


def http_headers(path, root):
    """How feedparser's test server serves a file: at http://127.0.0.1:8097/tests/PATH, with the
    headers of its `Header:` lines. As command-line flags."""
    doc_uri = "http://127.0.0.1:8097/tests/" + os.path.relpath(path, root).replace(os.sep, "/")
    flags = ["--base-url", doc_uri]
    for name, value in re.findall(r"Header:\s*([\w-]+):\s*(.*)", header_comment(path)):
        name = name.lower()
        if name == "content-type":
            flags += ["--content-type", value.strip()]
        elif name == "content-location":
            flags[1] = urllib.parse.urljoin(doc_uri, value.strip())
    return flags


def run_batch(binary, root, files):
    """Our reading of each file ({"crash": ...} when the parser failed on it). One process per
    file: each is served at its own URL with its own headers."""
    out = {}
    for f in files:
        r = subprocess.run(
            [binary, "feed", "parse", "--document", "--zone", "UTC", *http_headers(f, root), f], capture_output=True
        )
        if r.returncode == 0:
            d = json.loads(r.stdout.decode("utf-8").splitlines()[0])
            out[d["file"]] = d
        else:
            out[f] = {"crash": r.stderr.decode("utf-8", "replace")[-400:]}
    return out


def main():
    binary, root = sys.argv[1], sys.argv[2]
    verbose = "--verbose" in sys.argv
    files = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if not f.endswith((".md", "LICENSE")) and f != "LICENSE"
    )
    results = run_batch(binary, root, files)
    crashes = [f for f in files if "crash" in results.get(f, {"crash": "missing"})]
    passed, failed, different = [], [], []
    for f in files:
        expr = expectation(f)
        if not expr:
            continue
        clauses = [c for c in split_and(expr) if concerns(c)]
        if not clauses or f in crashes:
            if clauses:
                failed.append((f, "crashed"))
            continue
        rel = os.path.relpath(f, root)
        entries = [entry_view(e) for e in results[f].get("entries", [])]
        ok, why = True, ""
        for c in clauses:
            try:
                if not eval(c, {"entries": entries, "__builtins__": {"len": len, "ord": ord}}):
                    ok, why = False, c
                    break
            except Exception as e:  # noqa: BLE001 (an entry or field missing is a failure)
                ok, why = False, f"{c} ({type(e).__name__}: {e})"
                break
        if rel in DIFFERENT:
            different.append((rel, ok))
        elif ok:
            passed.append(rel)
        else:
            got = [{k: e.get(k) for k in ("title", "url", "summary", "content", "published_at", "updated_at")} for e in results[f].get("entries", [])[:2]]
            failed.append((rel, f"{why}  — got {json.dumps(got, ensure_ascii=False)}"))
    total = len(passed) + len(failed)
    rate = 100.0 * len(passed) / total if total else 0.0
    print(f"feed conformance: {len(files)} files read, {len(crashes)} crashed")
    print(f"  {total} files with expectations about entries' title/link/summary/date: {len(passed)} pass, {len(failed)} fail: {rate:.1f}%")
    for rel, ok in different:
        print(f"  deliberately different ({'passes anyway' if ok else 'fails'}): {rel}: {DIFFERENT[rel]}")
    shown = failed if verbose else failed[:40]
    for rel, why in shown:
        print(f"  FAIL {rel}: {why}")
    if len(shown) < len(failed):
        print(f"  … {len(failed) - len(shown)} more (--verbose)")
    for f in crashes:
        print(f"  CRASH {os.path.relpath(f, root)}: {results.get(f, {}).get('crash', '')}")
    if crashes or rate < 95.0:
        sys.exit(1)


if __name__ == "__main__":
    main()
