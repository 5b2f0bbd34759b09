"""Packing decisions on token ids alone (no model): which items share a row, which prefixes become a cache, and
where batches are cut."""

from pytest_kick.runners import packing
from pytest_kick.runners.engine import Engine
from pytest_kick.runners.packing import Item, pack, prefix_groups


def items_with_headers(subjects: int, per_subject: int, header: int = 15, body: int = 50) -> list[Item]:
    """MMLU-shaped: a header common to all ('The following are ... about'), then a per-subject part, then a question
    that shares nothing with the others; one scored token at the end."""
    out = []
    common = tuple(range(1000, 1000 + header - 4))
    for s in range(subjects):
        subject = (2000 + s,) * 4
        for q in range(per_subject):
            question = tuple(3000 + 100 * (s * per_subject + q) + k for k in range(body + q % 7))
            seq = common + subject + question
            out.append(Item(len(out), seq, len(seq) - 1, (7,)))
    return out


def test_a_header_per_subject_becomes_one_cache_per_subject():
    items = items_with_headers(subjects=3, per_subject=30)
    groups = prefix_groups(items)
    assert [len(p) for p, _ in groups] == [15, 15, 15]  # the common part and the subject: split where they branch
    assert sorted(len(g) for _, g in groups) == [30, 30, 30]
    for prefix, group in groups:
        assert all(items[it.index].seq == prefix + it.seq and it.start == items[it.index].start - len(prefix) for it in group)


def test_a_prefix_too_small_to_pay_stays_in_the_rows():
    items = items_with_headers(subjects=3, per_subject=4)  # 3 rows saved x 15 tokens: under PREFIX_SAVING
    assert [(p, len(g)) for p, g in prefix_groups(items)] == [((), 12)]


def test_unrelated_items_get_rows_of_their_own_and_a_context_shares_its_row():
    context = tuple(range(100, 160))
    answers = [Item(i, context + (900 + i,) * 3, 59, (5, 6, 7)) for i in range(4)]  # one context, four answers
    loose = [Item(10 + i, tuple(range(2000 * (i + 1), 2000 * (i + 1) + 70)), 69, (1,)) for i in range(3)]
    rows = pack(answers + loose)
    assert len(rows) == 4  # the context's tree, then one row per unrelated item
    tree = next(r for r in rows if len(r.targets) == 4)
    assert len(tree.tokens) == 60 + 4 * 3 and not tree.chain


def test_tiny_unrelated_items_share_a_short_row():
    tiny = [Item(i, tuple(range(100 * (i + 1), 100 * (i + 1) + 10)), 9, (1,)) for i in range(6)]
    rows = pack(tiny)
    assert len(rows) == 1 and len(rows[0].tokens) == 60 <= packing.SMALL_ROW


def cost(batches, forward_cost=32):
    return sum(max(b) * len(b) + forward_cost for b in batches)


def all_cuts(lengths, rows):
    """Every split of `lengths` into consecutive batches of at most `rows` (brute force)."""
    if not lengths:
        yield []
        return
    for k in range(1, min(rows, len(lengths)) + 1):
        for rest in all_cuts(lengths[k:], rows):
            yield [lengths[:k], *rest]


def test_batches_are_cut_where_lengths_jump_at_the_least_cost():
    eng = Engine.__new__(Engine)
    eng.batch_size = 4
    lengths = [300, 290, 60, 58, 57, 55, 54, 20]
    cut = eng._batches(lengths, lambda n: n, forward_cost=32)
    assert [n for b in cut for n in b] == lengths and all(len(b) <= 4 for b in cut)
    assert cut[0] == [300, 290]  # the two long rows are not padded with short ones
    assert cost(cut) == min(cost(c) for c in all_cuts(lengths, 4))
    full = eng._batches(lengths, lambda n: n)  # no forward cost: full batches in order
    assert full == [[300, 290, 60, 58], [57, 55, 54, 20]]
    assert cost(cut) < cost(full)


def test_auto_batches_stay_within_the_token_budget(monkeypatch):
    from pytest_kick.runners import engine

    monkeypatch.setattr(engine, "TOKEN_BUDGET", 600)
    eng = Engine.__new__(Engine)
    eng.batch_size = "auto"
    lengths = [250, 240, 200, 100, 100, 100, 100, 100, 100, 90, 700]
    lengths.sort(reverse=True)
    cut = eng._batches(lengths, lambda n: n, forward_cost=32)
    assert [n for b in cut for n in b] == lengths
    assert all(max(b) * len(b) <= 600 for b in cut if len(b) > 1)  # a single longer row still gets its forward
