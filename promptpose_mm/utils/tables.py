"""Markdown tables, as the tools and benchmarks print them."""
from typing import List, Sequence


def markdown_table(header: Sequence[str],
                   rows: Sequence[Sequence[str]]) -> List[str]:
    """The lines of a Markdown table with padded columns."""
    widths = [
        max(len(row[i]) for row in [header, *rows])
        for i in range(len(header))
    ]
    lines = [
        '| ' + ' | '.join(c.ljust(w) for c, w in zip(row, widths)) + ' |'
        for row in [header, *rows]
    ]
    lines.insert(1, '|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return lines
