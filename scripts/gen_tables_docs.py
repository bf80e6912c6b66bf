"""Write docs/tables.md, the tables and statuses reference, from the contracts (workflow/veiqa/contracts.py).

    python scripts/gen_tables_docs.py          # rewrite the page
    python scripts/gen_tables_docs.py --check  # exit 1 when the committed page differs (tests/test_docs.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from gen_config_docs import write_or_check  # noqa: E402 (this folder: the same command line)
from veiqa.contracts import tables_markdown  # noqa: E402

PAGE = REPO / "docs" / "tables.md"


def main(argv=None) -> int:
    return write_or_check(PAGE, tables_markdown(), "gen_tables_docs.py", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
