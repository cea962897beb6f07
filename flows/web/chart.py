"""A bar chart of counts per day as inline SVG, drawn on the server: no
script, no chart library, nothing fetched from elsewhere (the page's
Content-Security-Policy allows none of it)."""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 180
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 40, 22, 10


def every_day(counts: dict[date, int]) -> list[tuple[date, int]]:
    """(day, count) for every day from the first to the last of ``counts``,
    0 for the days between that have none."""
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [(first + timedelta(days=n), counts.get(first + timedelta(days=n), 0))
            for n in range((last - first).days + 1)]


def bar_chart(counts: dict[date, int], *, label: str) -> Markup:
    """An SVG bar per day (days without a count drawn empty), the largest
    count marked on the axis, the first and last day below; each bar's
    tooltip says its day and count.  ``label`` names what is counted."""
    days = every_day(counts)
    if not days:
        return Markup('<p class="empty">no mentions to chart</p>')
    top = max(count for _, count in days) or 1
    plot_width, plot_height = WIDTH - MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    step = plot_width / len(days)
    bar = min(max(step * 0.8, 1.0), 28.0)  # a few days must not become slabs
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(label)} per day">',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_height}" x2="{WIDTH}"'
        f' y2="{MARGIN_TOP + plot_height}" stroke="#888"/>',
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 10}" text-anchor="end" font-size="11">{top}</text>',
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + plot_height}" text-anchor="end" font-size="11">0</text>',
    ]
    for index, (day, count) in enumerate(days):
        height = plot_height * count / top
        x = MARGIN_LEFT + index * step + (step - bar) / 2
        y = MARGIN_TOP + plot_height - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="#2f6db5">'
            f'<title>{day.isoformat()}: {count} {escape(label)}</title></rect>'
        )
    baseline = HEIGHT - 6
    parts.append(f'<text x="{MARGIN_LEFT}" y="{baseline}" font-size="11">{days[0][0].isoformat()}</text>')
    if len(days) > 1:
        parts.append(f'<text x="{WIDTH}" y="{baseline}" text-anchor="end" font-size="11">'
                     f'{days[-1][0].isoformat()}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
