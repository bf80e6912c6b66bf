"""Write docs/tables.md, the tables and statuses reference, from the contracts (workflow/veiqa/contracts.py).

    python scripts/gen_tables_docs.py          # rewrite the page
    python scripts/gen_tables_docs.py --check  # exit 1 when the committed page differs (tests/test_docs.py)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from veiqa.contracts import tables_markdown  # noqa: E402

PAGE = REPO / "docs" / "tables.md"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the committed page is not up to date")
    args = ap.parse_args(argv)
    text = tables_markdown()
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE} is not up to date: run python scripts/gen_tables_docs.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
