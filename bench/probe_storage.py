"""Storage that fails under imagebot: a full disk (its data folder on a small tmpfs, filled from outside) and its
database locked by another connection while commands arrive. Returns one row each; asserts nothing.

A command holds when Slack got its ack in time (200, well under Slack's 3 s) and its user got an image or a
message; the scenario holds when, besides, no job was left running once the storage worked again (while the disk
is full a job cannot even be recorded as failed, so that count is shown, not judged) and nothing was sent to the
image API that could not be recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bench.probe_harness import (
    ACTIVE,
    CHANNEL,
    Bot,
    Row,
    bot_replies,
    files_in,
    rows,
    settle_jobs,
    world,
)
from standins.slack import Delivery, SlackStandIn

# Slack gives up on an ack after 3 s: https://api.slack.com/interactivity/handling#acknowledgment_response
ACK_LIMIT_MS = 3000.0
TMPFS_MB = 16
CAP = 30.0


@dataclass
class Asked:
    user: str
    delivery: Delivery


async def disk_and_lock(root: Path, lock_seconds: float) -> list[Row]:
    return [await disk_full(root / "full"), await locked(root / "locked", lock_seconds)]


async def disk_full(root: Path, count: int = 5) -> Row:
    """One request at the image API as the disk fills up (its ledger write fails), then `count` commands on the
    full disk, then one once there is room again."""
    data = root / "data"
    mounted, why = await _mount(data)
    if not mounted:
        return Row("disk full (data folder on a full tmpfs)", 0, "skipped", f"could not mount a tmpfs: {why}")
    try:
        async with world(root) as (slack, api, bot):
            await _warm_up(slack, bot)
            api.pause()
            asked = [await _ask(slack, "U0DISKRUN", "a lighthouse as the disk fills")]
            await api.wait_for_waiting(1, timeout=CAP)
            filled = await asyncio.to_thread(_fill, data / "filler")
            calls = len(api.requests)
            api.resume()  # its answer arrives on a full disk
            asked += [await _ask(slack, f"U0DISK{i}", "a lighthouse on a full disk") for i in range(count)]
            settled = await settle_jobs(data, cap=CAP)
            sent_while_full, running = len(api.requests) - calls, _running(data)
            heard = _heard(slack, data, asked)
            await asyncio.to_thread((data / "filler").unlink)
            again = await _ask(slack, "U0DISKOK", "a lighthouse once there is room")
            await settle_jobs(data, cap=CAP)
            recovered = bool(_heard(slack, data, [again], images_only=True))
            still_running = _running(data)
    finally:
        await _umount(data)
    acks = [a.delivery for a in asked]
    ok = (all(d.status == 200 and d.elapsed_ms < ACK_LIMIT_MS for d in acks) and heard == len(asked) and
          still_running == 0 and sent_while_full == 0 and recovered)
    return Row.judged(f"disk full ({TMPFS_MB} MB tmpfs filled while a call was in flight)", len(asked), ok,
                      f"{_acks(acks)}; {heard}/{len(asked)} told; jobs running after space returned {still_running} "
                      f"(while full {running}{'' if settled else ', at the cap'}); "
                      f"API calls while full {sent_while_full}; image once space returned: "
                      f"{'yes' if recovered else 'no'}; tracebacks {bot.tracebacks()}; filler {filled // 1024} KB")


async def locked(root: Path, seconds: float) -> Row:
    """BEGIN EXCLUSIVE from another connection for `seconds` while a command arrives every second."""
    async with world(root) as (slack, api, bot):
        await _warm_up(slack, bot)
        data = bot.data_dir
        lock = await asyncio.to_thread(_lock, data / "imagebot.db")
        calls = len(api.requests)
        try:
            tasks = [asyncio.create_task(_ask_at(slack, f"U0LOCK{i}", "a lighthouse, locked", float(i)))
                     for i in range(max(1, int(seconds)))]
            await asyncio.sleep(seconds)  # the scenario: the lock is held this long, whatever arrives meanwhile
            sent_while_locked = len(api.requests) - calls
        finally:
            await asyncio.to_thread(_release, lock)
        asked = await asyncio.wait_for(asyncio.gather(*tasks), CAP + seconds)
        settled = await settle_jobs(data, cap=CAP)
        heard = _heard(slack, data, asked)
        running = _running(data)
    acks = [a.delivery for a in asked]
    ok = all(d.status == 200 and d.elapsed_ms < ACK_LIMIT_MS for d in acks) and heard == len(asked) and \
        running == 0 and settled
    return Row.judged(f"database locked by another connection for {seconds:g} s", len(asked), ok,
                      f"{_acks(acks)}; {heard}/{len(asked)} got an image or a message; jobs left running {running}; "
                      f"API calls while locked {sent_while_locked}; tracebacks {bot.tracebacks()}")


def _acks(acks: list[Delivery]) -> str:
    statuses = sorted({d.status for d in acks})
    slowest = max((d.elapsed_ms for d in acks), default=0.0)
    return f"acks {'/'.join(str(s or 'none') for s in statuses)}, slowest {slowest:,.0f} ms"


async def _warm_up(slack: SlackStandIn, bot: Bot) -> None:
    """One ordinary image first, so the database and the image folder exist before storage fails."""
    await _ask(slack, "U0WARM", "a warm-up lighthouse")
    await settle_jobs(bot.data_dir, cap=CAP)


async def _ask(slack: SlackStandIn, user: str, text: str) -> Asked:
    if user not in slack.users:
        slack.add_user(user, user.lower())
    return Asked(user, await slack.send_command(user, CHANNEL, text))


async def _ask_at(slack: SlackStandIn, user: str, text: str, delay: float) -> Asked:
    await asyncio.sleep(delay)
    return await _ask(slack, user, text)


def _heard(slack: SlackStandIn, data: Path, asked: list[Asked], *, images_only: bool = False) -> int:
    """How many of these users got an image (or, unless images_only, any message) for their command."""
    threads: dict[str, list[str]] = {}
    with contextlib.suppress(sqlite3.Error):
        ended = f"SELECT user_id, thread_ts FROM jobs WHERE thread_ts IS NOT NULL AND status NOT IN {ACTIVE}"
        for job in rows(data, ended):
            threads.setdefault(job["user_id"], []).append(job["thread_ts"])
    heard = 0
    for one in asked:
        images = sum(files_in(slack, ts)[0] for ts in threads.get(one.user, []))
        said = bool(one.delivery.response_text.strip() or slack.ephemerals(user_id=one.user) or
                    any(bot_replies(slack, ts) for ts in threads.get(one.user, [])))
        heard += bool(images) if images_only else bool(images or said)
    return heard


def _running(data: Path) -> int:
    try:
        return int(rows(data, "SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running')")[0]["n"])
    except sqlite3.Error:
        return -1


async def _mount(folder: Path) -> tuple[bool, str]:
    """A TMPFS_MB tmpfs at `folder` (root only; Linux)."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    try:
        process = await asyncio.create_subprocess_exec(
            "mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(folder),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    except OSError as error:
        return False, str(error)
    output, _ = await asyncio.wait_for(process.communicate(), CAP)
    return process.returncode == 0, output.decode(errors="replace").strip()


async def _umount(folder: Path) -> None:
    process = await asyncio.create_subprocess_exec("umount", "-l", str(folder), stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.DEVNULL)
    await asyncio.wait_for(process.wait(), CAP)


def _fill(path: Path) -> int:
    """Write zeros to `path` until the file system is full; the bytes written."""
    written = 0
    block = b"\0" * 65536
    with path.open("wb", buffering=0) as out:
        while True:
            try:
                written += out.write(block) or 0
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
        with contextlib.suppress(OSError):  # fill the last partial block too
            while out.write(b"\0" * 512):
                written += 512
    return written


def _lock(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=CAP, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def _release(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK")
    conn.close()

