"""Packing scored sequences into rows: every distinct token path is computed once per row (a prefix tree laid out in
depth-first order), and each token attends only to its own ancestors, so a context shared by several continuations
(and by several questions) costs one pass."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Items sharing at least PREFIX_MIN leading tokens (a k-shot prompt, a task's header) may have that prefix computed
# once, as a cache, when that saves at least PREFIX_SAVING tokens of computation; candidates are found by their first
# PREFIX_KEY tokens, then split where they branch while splitting saves more (MMLU: one header per subject).
PREFIX_KEY = 4
PREFIX_MIN = 8
PREFIX_SAVING = 256
PREFIX_DEPTH = 8  # splits tried below a candidate group
ROW_TOKENS = 512  # tokens per packed row (a longer single sequence gets a row of its own length)
# An item joins the row being filled when it shares at least JOIN_SHARE of its tokens with the row's last path (a
# context's other answers and questions), or while the row stays within SMALL_ROW tokens (tiny unrelated items).
# Unrelated items otherwise get rows of their own: a long row of unrelated items costs attention over its whole
# width and leaves padding where it ends; rows of one context each, batched by length, read ~15% more tokens a second
# on CPU (measured on SmolLM2-135M, benchmarks/README.md).
JOIN_SHARE = 0.25
SMALL_ROW = 64


@dataclass(frozen=True)
class Item:
    """One request to score: the model reads `seq`; the logits at positions start .. start+len(cont)-1 score `cont`."""

    index: int
    seq: tuple[int, ...]
    start: int
    cont: tuple[int, ...]


@dataclass
class Row:
    """Tokens in depth-first order; `positions` are depths in the tree (plus the cached prefix's length); a token
    attends to the tokens in [its ancestors' columns] = every column c <= it with ends[c] > it."""

    tokens: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    targets: list[tuple[int, list[int], tuple[int, ...]]] = field(default_factory=list)  # (index, columns, cont)
    path: list[int] = field(default_factory=list)  # columns of the last path added (where the next one branches off)
    last: tuple[int, ...] = ()

    @property
    def chain(self) -> bool:
        """True when the row is one path: plain causal attention does."""
        return all(e == len(self.tokens) for e in self.ends)


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def pack(items: Sequence[Item], *, offset: int = 0, share: bool = True) -> list[Row]:
    """Rows of at most max(ROW_TOKENS, longest seq) tokens. Items are taken in token order, so paths that share a
    prefix are neighbours; a path shares the current row's tokens up to where it branches off the previous path.
    Without `share` (a model that cannot take a tree mask) a row holds one path (items that extend it join)."""
    limit = max([ROW_TOKENS] + [len(it.seq) for it in items])
    rows: list[Row] = []
    cur: Row | None = None
    for it in sorted(items, key=lambda it: it.seq):
        common = _lcp(cur.last, it.seq) if cur is not None else 0
        grown = len(cur.tokens) + len(it.seq) - common if cur is not None else 0
        related = common >= JOIN_SHARE * len(it.seq) or grown <= SMALL_ROW
        joins = cur is not None and (share or common == len(cur.last)) and grown <= limit and related
        if not joins:
            cur, common = Row(), 0
            rows.append(cur)
        assert cur is not None
        path = cur.path[:common]
        for depth in range(common, len(it.seq)):
            path.append(len(cur.tokens))
            cur.tokens.append(it.seq[depth])
            cur.positions.append(offset + depth)
        cur.path, cur.last = path, it.seq
        cur.targets.append((it.index, path[it.start : it.start + len(it.cont)], it.cont))
    for row in rows:
        row.ends = _ends([p - offset for p in row.positions])
    return rows


def _ends(depths: list[int]) -> list[int]:
    """In a depth-first layout a node's subtree is the columns after it up to the next node no deeper than it."""
    ends = [len(depths)] * len(depths)
    stack: list[int] = []
    for col, d in enumerate(depths):
        while stack and depths[stack[-1]] >= d:
            ends[stack.pop()] = col
        stack.append(col)
    return ends


def prefix_groups(items: Sequence[Item], share: bool = True, packed: bool = True) -> list[tuple[tuple[int, ...], list[Item]]]:
    """(prefix, items) groups: items whose common first tokens are worth computing once as a cache (a k-shot
    prefix, a header) get their own group, their seqs cut after the prefix; all others form one group with an empty
    prefix. Worth it: the prefix would otherwise be computed again in each packed row (or, not `packed`, for each
    item)."""
    by_head: dict[tuple[int, ...], list[Item]] = defaultdict(list)
    for it in items:
        by_head[it.seq[:PREFIX_KEY]].append(it)
    loose: list[Item] = []
    out: list[tuple[tuple[int, ...], list[Item]]] = []
    for group in by_head.values():
        for prefix, members in _best_split(group, share, packed, PREFIX_DEPTH)[1]:
            if not prefix:
                loose += members
                continue
            out.append((members[0].seq[:prefix], _after(members, prefix)))
    return ([((), loose)] if loose else []) + out


def _after(items: Sequence[Item], prefix: int) -> list[Item]:
    return [Item(it.index, it.seq[prefix:], it.start - prefix, it.cont) for it in items]


def _best_split(group: list[Item], share: bool, packed: bool, depth: int) -> tuple[int, list[tuple[int, list[Item]]]]:
    """(tokens saved, [(prefix length or 0, items)]): the group with its common prefix cached, or the group split
    where its items branch after that prefix, whichever saves more."""
    first = min(it.start for it in group)  # a prefix never reaches past the first scored position
    prefix = first
    for it in group[1:]:
        prefix = _lcp(group[0].seq[:prefix], it.seq[:prefix])
    saved = 0
    if prefix >= PREFIX_MIN and len(group) > 1:  # the rows the items would need after the prefix
        rows = len(pack(_after(group, prefix), share=share)) if packed else len(group)
        saved = (rows - 1) * prefix if rows > 1 and (rows - 1) * prefix >= PREFIX_SAVING else 0
    whole = (saved, [(prefix if saved else 0, group)])
    if depth == 0 or len(group) < 2 or prefix >= first:
        return whole
    branches: dict[int, list[Item]] = defaultdict(list)
    for it in group:
        branches[it.seq[prefix]].append(it)
    if len(branches) < 2:
        return whole
    parts = [_best_split(b, share, packed, depth - 1) for b in branches.values()]
    split_saved = sum(p[0] for p in parts)
    return (split_saved, [g for p in parts for g in p[1]]) if split_saved > saved else whole


def tree_mask(rows: Sequence[Row], width: int, past: int) -> Any:
    """Boolean attention mask [rows, 1, width, past + width]: the cached prefix, then each token's ancestors and
    itself; padding columns attend to themselves only."""
    import torch

    mask = torch.zeros((len(rows), 1, width, past + width), dtype=torch.bool)
    col = torch.arange(width)
    for b, row in enumerate(rows):
        n = len(row.tokens)
        ends = torch.tensor(row.ends)
        mine = (col[None, :n] <= col[:n, None]) & (col[:n, None] < ends[None, :])
        mask[b, 0, :n, past : past + n] = mine
        mask[b, 0, :n, :past] = True
        mask[b, 0, n:, past + n :] = torch.eye(width - n, dtype=torch.bool)
    return mask


def expand_cache(past: Any, batch: int) -> Any:
    """A fresh cache whose layers view the computed prefix `batch` times (no copy until the forward appends)."""
    import copy

    cache = copy.copy(past)
    cache.layers = []
    for layer in past.layers:
        new = copy.copy(layer)
        new.keys = layer.keys.expand(batch, -1, -1, -1)
        new.values = layer.values.expand(batch, -1, -1, -1)
        cache.layers.append(new)
    return cache
