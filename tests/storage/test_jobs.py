"""storage/jobs.py: the claims that make a button good for one use — Run it again on an interrupted job
(claim_rerun)."""

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
