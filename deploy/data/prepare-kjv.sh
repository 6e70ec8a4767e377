#!/bin/sh
# Prepares the default Ladder corpus, "kjv": the King James Bible from the
# Debian package bible-kjv (its `bible` program and bible-kjv-text), as
# byte-level tokens with a fixed train/validation split.
#
#   deploy/data/prepare-kjv.sh [DATA_DIR]
#
# DATA_DIR defaults to $LADDER_DATA_DIR, else ~/.cache/ladder/data. Writes
# DATA_DIR/kjv/{train.u8,val.u8,meta.json} (replacing an earlier copy
# atomically). The text is the whole Bible, Genesis 1:1 to Revelation 22:21,
# with chapter headings and verse numbers stripped: one verse per line, a
# blank line between chapters. The last 5% of the bytes (the end of the New
# Testament) are the validation split. Deterministic: the same package gives
# the same bytes (meta.json records their SHA-256).
set -eu

DATA_DIR=${1:-${LADDER_DATA_DIR:-${HOME:-/tmp}/.cache/ladder/data}}
VAL_PERCENT=5

if ! command -v bible >/dev/null 2>&1; then
  echo "prepare-kjv: the 'bible' program is missing: apt-get install bible-kjv" >&2
  exit 1
fi
mkdir -p "$DATA_DIR"
TMP=$(mktemp -d "$DATA_DIR/.kjv.XXXXXX")
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT

# bible prints "Book N" headings (after a blank line), verses as "  N text"
# with the text wrapped at 80 columns. Keep the text, join each verse's lines.
bible 'Gen1:1-Rev22:21' | LC_ALL=C awk '
  /^$/ { blank = 1; next }
  blank && /^[1-3]? ?[A-Z][A-Za-z ]* [0-9]+$/ {
    if (verse != "") { print verse; verse = "" }
    if (chapters++) print ""
    blank = 0; next
  }
  /^  [0-9]+ / {
    if (verse != "") print verse
    sub(/^  [0-9]+ /, ""); verse = $0; blank = 0; next
  }
  { verse = verse " " $0; blank = 0 }
  END { if (verse != "") print verse; if (chapters != 1189) exit 3 }
' > "$TMP/kjv.txt" || { echo "prepare-kjv: unexpected output from 'bible'" >&2; exit 1; }

TOTAL=$(wc -c < "$TMP/kjv.txt")
VAL=$((TOTAL * VAL_PERCENT / 100))
TRAIN=$((TOTAL - VAL))
head -c "$TRAIN" "$TMP/kjv.txt" > "$TMP/train.u8"
tail -c "$VAL" "$TMP/kjv.txt" > "$TMP/val.u8"
SHA=$(sha256sum "$TMP/kjv.txt" | cut -d' ' -f1)
VERSION=$(dpkg-query -W -f='${Version}' bible-kjv-text 2>/dev/null || echo unknown)
cat > "$TMP/meta.json" <<JSON
{"name": "kjv", "source": "Debian bible-kjv-text $VERSION: King James Bible, Gen 1:1 - Rev 22:21, verse numbers and chapter headings stripped", "format": "u8", "vocab": 256, "tokens_total": $TOTAL, "tokens_train": $TRAIN, "tokens_val": $VAL, "validation": "last $VAL_PERCENT% of the bytes", "sha256": "$SHA"}
JSON
rm "$TMP/kjv.txt"

# Already prepared from the same text: leave it alone (trainers may be
# reading it).
if [ -f "$DATA_DIR/kjv/meta.json" ] && grep -q "\"sha256\": \"$SHA\"" "$DATA_DIR/kjv/meta.json"; then
  echo "prepare-kjv: $DATA_DIR/kjv is already prepared ($TRAIN train + $VAL validation tokens)" >&2
  exit 0
fi

# Swap the finished directory in (two renames: a trainer starting in between
# would not find the corpus, so re-prepare only when no runs are starting).
rm -rf "$DATA_DIR/kjv.new"
if [ -d "$DATA_DIR/kjv" ]; then
  mv "$DATA_DIR/kjv" "$TMP/old"
fi
mv "$TMP" "$DATA_DIR/kjv.new"
mv "$DATA_DIR/kjv.new" "$DATA_DIR/kjv"
trap - EXIT
rm -rf "$DATA_DIR/kjv/old"
echo "prepare-kjv: $DATA_DIR/kjv: $TRAIN train + $VAL validation tokens (bytes)" >&2
