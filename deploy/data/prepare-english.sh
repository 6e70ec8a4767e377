#!/bin/sh
# Prepares the "debian-en" corpus: about 100M bytes of English text from
# Debian packages, as byte-level tokens with a fixed train/validation split.
#
#   deploy/data/prepare-english.sh [--sources LIST] [DATA_DIR]
#
# DATA_DIR defaults to $LADDER_DATA_DIR, else ~/.cache/ladder/data. Writes
# DATA_DIR/debian-en/{train.u8,val.u8,meta.json} (replacing an earlier copy
# atomically; a failed run leaves the earlier copy as it was).
#
# Sources, in this order (deploy/install-deps.sh installs them):
#   kjv             bible-kjv          King James Bible (as prepare-kjv.sh)
#   gcide           dict-gcide         GNU Collaborative International
#                                      Dictionary of English (Webster 1913+)
#   wordnet         wordnet-base       WordNet 3.0 glosses, "words: gloss"
#   linux-doc       linux-doc-6.1      the kernel's Documentation/ (.rst, .txt;
#                                      not translations/)
#   python-doc      python3.11-doc     the Python docs' reStructuredText
#   perl-doc        perl-doc           perl*.pod, formatting codes stripped
#   postgresql-doc  postgresql-doc-15  the PostgreSQL manual, HTML to text
#   vim-doc         vim-runtime        Vim's help files
# --sources kjv,gcide takes a subset (meta.json lists what was used); the
# directory is debian-en either way. LADDER_CORPUS_ROOT (default /) is where
# the packages' files are looked for, for tests.
#
# Deterministic: the same package versions give the same bytes; meta.json
# records the versions and the SHA-256 of train.u8 followed by val.u8. The
# validation split is every 20th block of 16 KiB of each source (not the
# tail, which would be one package), so it covers every source; blocks are
# interleaved so that any prefix of either split mixes all sources. See
# deploy/data/english_corpus.py for the text rules.
set -eu

NAME=debian-en
SOURCES=""
if [ "${1:-}" = "--sources" ]; then
  [ $# -ge 2 ] || { echo "prepare-english: --sources needs a list" >&2; exit 1; }
  SOURCES=$2
  shift 2
fi
DATA_DIR=${1:-${LADDER_DATA_DIR:-${HOME:-/tmp}/.cache/ladder/data}}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ ! -x /usr/bin/python3 ]; then
  echo "prepare-english: /usr/bin/python3 is missing: apt-get install python3" >&2
  exit 1
fi
mkdir -p "$DATA_DIR"
TMP=$(mktemp -d "$DATA_DIR/.$NAME.XXXXXX")
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT

/usr/bin/python3 "$HERE/english_corpus.py" "$TMP" --root "${LADDER_CORPUS_ROOT:-/}" \
  ${SOURCES:+--sources "$SOURCES"}
SHA=$(sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' "$TMP/meta.json")
TRAIN=$(wc -c < "$TMP/train.u8")
VAL=$(wc -c < "$TMP/val.u8")

# Already prepared from the same text: leave it alone (trainers may be
# reading it).
if [ -f "$DATA_DIR/$NAME/meta.json" ] && grep -q "\"sha256\": \"$SHA\"" "$DATA_DIR/$NAME/meta.json"; then
  echo "prepare-english: $DATA_DIR/$NAME is already prepared ($TRAIN train + $VAL validation tokens)" >&2
  exit 0
fi

# Swap the finished directory in (two renames: a trainer starting in between
# would not find the corpus, so re-prepare only when no runs are starting).
# The new copy is in place under NAME.new before the old one moves aside to
# NAME.old, so a failure at any step leaves a whole corpus (the old one, as
# NAME or NAME.old) and never deletes it.
rm -rf "$DATA_DIR/$NAME.new" "$DATA_DIR/$NAME.old"
mv "$TMP" "$DATA_DIR/$NAME.new"
trap 'rm -rf "$DATA_DIR/$NAME.new"' EXIT
if [ -d "$DATA_DIR/$NAME" ]; then
  mv "$DATA_DIR/$NAME" "$DATA_DIR/$NAME.old"
fi
mv "$DATA_DIR/$NAME.new" "$DATA_DIR/$NAME"
trap - EXIT
rm -rf "$DATA_DIR/$NAME.old"
echo "prepare-english: $DATA_DIR/$NAME: $TRAIN train + $VAL validation tokens (bytes), sha256 $SHA" >&2
