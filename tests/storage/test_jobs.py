"""storage/jobs.py: the claims that make a button good for one use — Run it again on an interrupted job
(claim_rerun), the answer to a confirmation (settle_confirmation)."""

from storage.store import Store


def job(store: Store, key: str, *, status: str = "interrupted") -> int:
    record, _ = store.create_job(dedupe_key=key, kind="generate", team_id="T1", channel_id="C1", user_id="U1",
                                 payload={"prompt": "a cat"}, thread_ts="1.0")
    if status == "interrupted":
        store.start_job(record.id)
        store.interrupt_running_jobs()
    else:
        store.finish_job(record.id, status)
    return record.id


def test_an_interrupted_job_is_claimed_for_one_rerun(store: Store) -> None:
    interrupted = job(store, "command:1")
    assert store.claim_rerun(interrupted, f"rerun:{interrupted}")
    store.create_job(dedupe_key=f"rerun:{interrupted}", kind="generate", team_id="T1", channel_id="C1",
                     user_id="U1", payload={}, retry_of=interrupted)
    assert not store.claim_rerun(interrupted, f"rerun:{interrupted}")  # a second press, or after a restart


def test_a_claim_that_made_no_rerun_can_be_taken_again(store: Store) -> None:
    interrupted = job(store, "command:1")
    assert store.claim_rerun(interrupted, f"rerun:{interrupted}")  # then refused (rate limit), or a crash
    assert store.claim_rerun(interrupted, f"rerun:{interrupted}")


def test_only_an_interrupted_job_can_be_run_again(store: Store) -> None:
    done = job(store, "command:2", status="done")
    assert not store.claim_rerun(done, f"rerun:{done}")
    assert not store.claim_rerun(999, "rerun:999")


def awaiting(store: Store, key: str) -> int:
    record, _ = store.create_job(dedupe_key=key, kind="generate", team_id="T1", channel_id="C1", user_id="U1",
                                 payload={"prompt": "a cat"}, thread_ts="1.0")
    store.finish_job(record.id, "failed", error_code="awaiting_confirmation")
    return record.id


def test_a_confirmation_is_answered_once_when_its_request_was_made(store: Store) -> None:
    asked = awaiting(store, "command:1")
    assert store.settle_confirmation(asked, "confirmed", f"confirmed:{asked}")
    store.create_job(dedupe_key=f"confirmed:{asked}", kind="generate", team_id="T1", channel_id="C1",
                     user_id="U1", payload={"confirmed": True})
    assert not store.settle_confirmation(asked, "confirmed", f"confirmed:{asked}")  # pressed again, or restarted
    assert not store.settle_confirmation(asked, "cancelled", f"confirmed:{asked}")
    cancelled = awaiting(store, "command:2")
    assert store.settle_confirmation(cancelled, "cancelled", f"confirmed:{cancelled}")
    assert not store.settle_confirmation(cancelled, "confirmed", f"confirmed:{cancelled}")


def test_a_confirmation_whose_request_was_refused_can_be_answered_again(store: Store) -> None:
    asked = awaiting(store, "command:1")
    assert store.settle_confirmation(asked, "confirmed", f"confirmed:{asked}")  # then refused (rate limit), or a crash
    assert store.settle_confirmation(asked, "confirmed", f"confirmed:{asked}")
    assert store.settle_confirmation(asked, "cancelled", f"confirmed:{asked}")  # or, on second thought, cancelled
    assert not store.settle_confirmation(asked, "confirmed", f"confirmed:{asked}")
