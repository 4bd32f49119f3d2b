"""storage/ledger.py: a row per image API call and what a thread has spent, on a real database."""

import json
from pathlib import Path

from storage.records import LedgerEntry, Spend, ThreadKey
from storage.store import Store

KEY = ThreadKey("T1", "C1", "1700000000.000100")
OTHER = ThreadKey("T1", "C1", "1700000000.000200")


def entry(key: ThreadKey = KEY, **fields) -> LedgerEntry:
    base = {"key": key, "user_id": "U1", "kind": "generate", "provider": "openai", "model": "gpt-image-1",
            "size": "1024x1024", "quality": "medium", "n": 1, "prompt": "a cat"}
    return LedgerEntry(**{**base, **fields})


def test_empty_thread_has_spent_nothing(store: Store) -> None:
    assert store.thread_spend(KEY) == Spend(micro=0, calls=0, unknown=0)


def test_record_call_stores_the_entry_with_total_tokens_and_image_ids(store: Store) -> None:
    row_id = store.record_call(entry(input_text_tokens=10, input_image_tokens=194, output_image_tokens=1056,
                                     cost_micro=44_305, latency_ms=1234, request_id="req_1", image_ids=("a", "b")))

    [row] = store.ledger_rows(id=row_id)
    assert row["total_tokens"] == 10 + 194 + 1056
    assert row["output_text_tokens"] is None
    assert json.loads(row["image_ids"]) == ["a", "b"]
    assert (row["team_id"], row["channel_id"], row["thread_ts"], row["user_id"]) == ("T1", "C1", KEY.thread_ts, "U1")
    assert (row["cost_micro"], row["status"], row["request_id"], row["latency_ms"]) == (44_305, "ok", "req_1", 1234)


def test_record_call_without_usage_has_no_total_tokens(store: Store) -> None:
    row_id = store.record_call(entry(status="error", error_code="server_error"))

    [row] = store.ledger_rows(id=row_id)
    assert row["total_tokens"] is None
    assert json.loads(row["image_ids"]) == []


def test_record_call_ids_increase(store: Store) -> None:
    first = store.record_call(entry())
    second = store.record_call(entry())

    assert second > first
    assert [r["id"] for r in store.ledger_rows(team_id="T1")] == [first, second]


def test_thread_spend_sums_known_costs_and_counts_unknown_ones(store: Store) -> None:
    store.record_call(entry(cost_micro=42_240))
    store.record_call(entry(cost_micro=10_880, kind="edit"))
    store.record_call(entry(cost_micro=None, model="house-model"))  # succeeded, price unknown
    store.record_call(entry(status="error", error_code="moderation_blocked"))  # refused: no cost
    store.record_call(entry(cost_micro=5, key=OTHER))  # another thread

    assert store.thread_spend(KEY) == Spend(micro=42_240 + 10_880, calls=3, unknown=1)
    assert store.thread_spend(OTHER) == Spend(micro=5, calls=1, unknown=0)


def test_billed_call_that_failed_afterwards_keeps_its_cost(store: Store) -> None:
    store.record_call(entry(cost_micro=42_240))
    store.record_call(entry(status="error", error_code="server_error", cost_micro=166_400))

    spend = store.thread_spend(KEY)

    assert spend.micro == 42_240 + 166_400
    assert (spend.calls, spend.unknown) == (1, 0)


def test_error_without_cost_is_not_an_unknown_price(store: Store) -> None:
    store.record_call(entry(status="error", error_code="rate_limited"))

    assert store.thread_spend(KEY) == Spend(micro=0, calls=0, unknown=0)


def test_ledger_survives_a_restart(tmp_path: Path) -> None:
    first = Store.open(tmp_path)
    first.record_call(entry(cost_micro=42_240))
    first.close()

    reopened = Store.open(tmp_path)
    try:
        assert reopened.thread_spend(KEY) == Spend(micro=42_240, calls=1, unknown=0)
    finally:
        reopened.close()


def test_a_call_cut_short_by_a_crash_keeps_its_estimate_and_the_thread_counts_it(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    key = ThreadKey("T1", "C1", "1.0")
    try:
        for estimate in (40_000, 12_000):  # two calls out when the process died
            store.record_call(LedgerEntry(key=key, user_id="U1", kind="generate", provider="openai", model="m",
                                          size="1024x1024", quality="low", n=1, prompt="p", status="pending",
                                          estimate_micro=estimate))
        store.record_call(LedgerEntry(key=key, user_id="U1", kind="generate", provider="openai", model="m",
                                      size="1024x1024", quality="low", n=1, prompt="p", cost_micro=42_240,
                                      estimate_micro=40_000))
        assert store.thread_spend(key).micro == 42_240  # in flight: the budgets' reservation holds it, not this

        assert store.interrupt_pending_calls() == 2

        cut = [r for r in store.ledger_rows() if r["status"] == "error"]
        assert [(r["error_code"], r["cost_micro"], r["estimate_micro"]) for r in cut] == [
            ("interrupted", None, 40_000), ("interrupted", None, 12_000)]
        spend = store.thread_spend(key)
        assert spend.micro == 42_240 + 52_000 and spend.estimated.micro == 52_000 and spend.estimated.calls == 2
        assert spend.calls == 1 and spend.unknown == 0
        assert store.spend("T1", "2000-01-01T00:00:00.000+00:00", "2100-01-01T00:00:00.000+00:00") == 94_240
    finally:
        store.close()
