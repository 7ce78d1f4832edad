"""What the dashboard keeps per process (counts, worklist pages) stays within its bound."""

from __future__ import annotations

from surveillance.services.kept import Kept


def test_the_least_recently_used_go_first_once_the_weights_pass_the_bound():
    kept: Kept[str] = Kept(size=10, weigh=len)
    kept.put(("a",), "aaaa")
    kept.put(("b",), "bbbb")
    assert kept.get(("a",)) == "aaaa"  # now the more recently used
    kept.put(("c",), "cccc")  # 12 > 10: b goes
    assert (kept.get(("a",)), kept.get(("b",)), kept.get(("c",))) == ("aaaa", None, "cccc")


def test_a_value_put_again_is_weighed_once():
    kept: Kept[str] = Kept(size=10, weigh=len)
    for _ in range(5):
        kept.put(("a",), "aaaa")
    kept.put(("b",), "bbbbbb")
    assert kept.get(("a",)) == "aaaa" and kept.get(("b",)) == "bbbbbb"


def test_one_value_heavier_than_the_bound_is_kept_alone():
    kept: Kept[str] = Kept(size=3, weigh=len)
    kept.put(("a",), "a")
    kept.put(("b",), "bbbbbb")
    assert (kept.get(("a",)), kept.get(("b",))) == (None, "bbbbbb")
