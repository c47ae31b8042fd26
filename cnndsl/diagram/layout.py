"""A layered layout: each box on the row of its topological depth, branches side by side.

1. Rank: a box sits one row below the deepest box it reads from.
2. An edge that skips rows (a residual's identity, a U-Net skip) gets a waypoint on
   every row it crosses; waypoints take a lane of their own in the row, like narrow
   boxes, so the edge runs between boxes, never through one.
3. Order within a row: by the mean position of what each item reads from (barycentres),
   waypoints after boxes when tied: a skip runs beside the body it skips.
4. Place: each item wants to sit under the weighted mean of what it reads from
   (waypoints weigh little, so the main path stays straight); items that would overlap
   are packed into blocks centred on their members' wishes (pool-adjacent violators).
5. Route: an edge leaves its source's bottom and enters its target's top at ports spread
   by the order of the other ends, and runs through its waypoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .units import Unit

CHAR = 7.2  # the width of a character of the 12 px monospace font
LINE = 15.0  # the height of a line of text
PAD_X, PAD_Y = 10.0, 8.0  # inside a box
GAP_X, GAP_Y = 24.0, 36.0  # between boxes, between rows
LANE = 12.0  # the width a waypoint takes in its row
MARGIN = 16.0
SKIP_WEIGHT = 0.05  # how much a waypoint pulls on what it feeds


@dataclass
class Item:
    """A box or a waypoint on one row."""

    key: str  # a unit id, or "edge#row" for a waypoint
    rank: int
    width: float
    preds: list[str] = field(default_factory=list)
    unit: Unit | None = None
    x: float = 0.0  # centre

    @property
    def weight(self) -> float:
        return 1.0 if self.unit is not None else SKIP_WEIGHT


@dataclass(frozen=True)
class Box:
    unit: Unit
    x: float  # left
    y: float  # top
    width: float
    height: float
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    boxes: tuple[Box, ...]
    edges: tuple[tuple[str, str, tuple[tuple[float, float], ...]], ...]  # src, dst, points
    width: float
    height: float


def box_lines(u: Unit) -> tuple[str, ...]:
    kind = f"{u.kind} {u.detail}".strip()
    last = u.shape + (f" · {u.params:,} params" if u.params else "")
    return (u.name, kind, last)


def layout(units: Sequence[Unit]) -> Layout:
    items, chains = _items(units)
    rows = _rows(items)
    _order(rows, items)
    for row in rows:
        _place(row, items)
    return _finish(units, items, rows, chains)


def ranks(units: Sequence[Unit]) -> dict[str, int]:
    """Each box's row: one below the deepest box it reads from (units come in model order)."""
    rank: dict[str, int] = {}
    for u in units:
        rank[u.id] = 1 + max((rank[i] for i in u.inputs), default=-1)
    return rank


def bends(units: Sequence[Unit]) -> tuple[int, tuple[Unit, Unit, int] | None]:
    """The waypoints the layout makes, one for each row an edge skips, and the edge that
    skips the most rows (source, target, rows), counted before any is made: edges from
    one early tensor to every later block make a number of waypoints that grows with the
    square of the model (1,500 of them: 2.25 million waypoints, 50 s, 1.5 GB)."""
    rank, by_id = ranks(units), {u.id: u for u in units}
    total, longest = 0, None
    for u in units:
        for i in u.inputs:
            skipped = rank[u.id] - rank[i] - 1
            total += skipped
            if skipped > 0 and (longest is None or skipped > longest[2]):
                longest = (by_id[i], u, skipped)
    return total, longest


def _items(units: Sequence[Unit]) -> tuple[dict[str, Item], list[tuple[str, str, list[str]]]]:
    """Boxes and waypoints, and each edge's chain of waypoints."""
    items: dict[str, Item] = {}
    for u, rank in zip(units, ranks(units).values()):
        width = max(len(t) for t in box_lines(u)) * CHAR + 2 * PAD_X
        items[u.id] = Item(u.id, rank, width, list(u.inputs), u)
    chains = []
    for u in units:
        for i in u.inputs:
            prev, way = i, []
            for r in range(items[i].rank + 1, items[u.id].rank):
                key = f"{i}>{u.id}#{r}"
                items[key] = Item(key, r, LANE, [prev])
                way.append(key)
                prev = key
            chains.append((i, u.id, way))
            if way:  # the target reads the last waypoint, not the source
                items[u.id].preds[items[u.id].preds.index(i)] = prev
    return items, chains


def _rows(items: dict[str, Item]) -> list[list[Item]]:
    rows: list[list[Item]] = [[] for _ in range(1 + max(it.rank for it in items.values()))]
    for it in items.values():
        rows[it.rank].append(it)
    for row in rows:  # boxes first, in model order; then waypoints
        row.sort(key=lambda it: it.unit is None)
    return rows


def _order(rows: list[list[Item]], items: dict[str, Item]) -> None:
    """Sort each row by the mean index of its items' predecessors (stable: ties keep
    boxes before waypoints, model order among boxes)."""
    index: dict[str, int] = {}
    for row in rows:
        for it in row:
            positions = [index[p] for p in it.preds if p in index]
            it.x = sum(positions) / len(positions) if positions else 0.0
        row.sort(key=lambda it: it.x)
        index.update({it.key: i for i, it in enumerate(row)})


def _place(row: list[Item], items: dict[str, Item]) -> None:
    """Centres as close to the wishes as the order and the gaps allow."""
    wishes = [_wish(i, it, items) for i, it in enumerate(row)]
    # blocks: [first, last, weight, weighted sum of (wish - offset of the member)]
    blocks: list[list[float]] = []
    offsets = [0.0] * len(row)
    for i, it in enumerate(row):
        offsets[i] = 0.0
        blocks.append([i, i, it.weight, it.weight * wishes[i]])
        while len(blocks) > 1 and _overlap(blocks[-2], blocks[-1], row, offsets):
            _merge(blocks, row, offsets)
    for first, last, weight, total in blocks:
        start = total / weight
        for k in range(int(first), int(last) + 1):
            row[k].x = start + offsets[k]


def _wish(i: int, it: Item, items: dict[str, Item]) -> float:
    """The weighted mean centre of what ``it`` reads from (the i-th slot if nothing)."""
    preds = [items[p] for p in it.preds]
    total = sum(p.weight for p in preds)
    return sum(p.x * p.weight for p in preds) / total if preds else i * GAP_X


def _left(block: list[float], row: list[Item], offsets: list[float]) -> float:
    return block[3] / block[2] + offsets[int(block[0])] - row[int(block[0])].width / 2


def _right(block: list[float], row: list[Item], offsets: list[float]) -> float:
    return block[3] / block[2] + offsets[int(block[1])] + row[int(block[1])].width / 2


def _overlap(a: list[float], b: list[float], row: list[Item], offsets: list[float]) -> bool:
    return _right(a, row, offsets) + GAP_X > _left(b, row, offsets)


def _merge(blocks: list[list[float]], row: list[Item], offsets: list[float]) -> None:
    """Join the last block to the one before: its members keep their spacing after it."""
    b = blocks.pop()
    a = blocks[-1]
    last_a, first_b = int(a[1]), int(b[0])
    shift = offsets[last_a] + row[last_a].width / 2 + GAP_X + row[first_b].width / 2
    for k in range(first_b, int(b[1]) + 1):
        offsets[k] += shift
    # b's sum was of (wish - offset) with offsets relative to b's start
    a[3] += b[3] - b[2] * shift
    a[2] += b[2]
    a[1] = b[1]


def _finish(
    units: Sequence[Unit],
    items: dict[str, Item],
    rows: list[list[Item]],
    chains: list[tuple[str, str, list[str]]],
) -> Layout:
    left = min(it.x - it.width / 2 for it in items.values())
    dx = MARGIN - left
    height = 3 * LINE + 2 * PAD_Y
    boxes = {}
    for u in units:
        it = items[u.id]
        top = MARGIN + it.rank * (height + GAP_Y)
        boxes[u.id] = Box(u, it.x - it.width / 2 + dx, top, it.width, height, box_lines(u))
    edges = _route(boxes, items, chains, dx, height)
    width = max(it.x + it.width / 2 for it in items.values()) + dx + MARGIN
    total = MARGIN * 2 + len(rows) * height + (len(rows) - 1) * GAP_Y
    return Layout(tuple(boxes[u.id] for u in units), edges, _r(width), _r(total))


def _r(v: float) -> float:
    return round(v, 1)


def _route(
    boxes: dict[str, Box],
    items: dict[str, Item],
    chains: list[tuple[str, str, list[str]]],
    dx: float,
    height: float,
) -> tuple[tuple[str, str, tuple[tuple[float, float], ...]], ...]:
    """Each edge's points: out of the source's bottom, through its waypoints (down the
    middle of their lane, the height of a row), into the target's top."""

    def centre(key: str) -> float:
        return items[key].x + dx

    outs: dict[str, list[int]] = {}
    ins: dict[str, list[int]] = {}
    for k, (src, dst, _) in enumerate(chains):
        outs.setdefault(src, []).append(k)
        ins.setdefault(dst, []).append(k)
    # ports: the order of the other ends, left to right
    out_port = _ports(
        boxes, outs, lambda k: centre(chains[k][2][0] if chains[k][2] else chains[k][1])
    )
    in_port = _ports(
        boxes, ins, lambda k: centre(chains[k][2][-1] if chains[k][2] else chains[k][0])
    )
    routed = []
    for k, (src, dst, way) in enumerate(chains):
        s, d = boxes[src], boxes[dst]
        pts = [(out_port[k], s.y + s.height)]
        for w in way:
            top = MARGIN + items[w].rank * (height + GAP_Y)
            pts += [(centre(w), top), (centre(w), top + height)]
        pts.append((in_port[k], d.y))
        routed.append((src, dst, tuple((_r(x), _r(y)) for x, y in pts)))
    return tuple(routed)


def _ports(boxes: dict[str, Box], ends: dict[str, list[int]], other: object) -> dict[int, float]:
    """Where each edge meets a box: spread over the middle half of its side."""
    assert callable(other)
    ports: dict[int, float] = {}
    for key, ks in ends.items():
        b = boxes[key]
        ordered = sorted(ks, key=lambda k: (other(k), k))
        n = len(ordered)
        for j, k in enumerate(ordered):
            ports[k] = b.x + b.width / 2 + (0 if n == 1 else (j / (n - 1) - 0.5) * b.width / 2)
    return ports
