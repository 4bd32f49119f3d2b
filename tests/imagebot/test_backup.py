"""`imagebot backup PATH` and `imagebot restore PATH [--force]`, the real command in a subprocess, as an operator
runs them: a backup taken while the bot is serving restores into a data folder that works."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from standins.slack import SlackStandIn
from storage.records import ThreadKey
from storage.store import Store
from tests.conftest import WorkspaceFactory
from tests.slack_views import cards, image_replies, sha

_INSTALLED = Path(sys.executable).with_name("imagebot")
IMAGEBOT = [str(_INSTALLED)] if _INSTALLED.is_file() else [sys.executable, "-m", "imagebot"]
CHANNEL = "C0GENERAL"


async def imagebot(tmp_path: Path, data_dir: Path, *args: str) -> tuple[int, str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(Path.cwd()),
           "IMAGEBOT_DATA_DIR": str(data_dir)}
    process = await asyncio.create_subprocess_exec(*IMAGEBOT, *args, cwd=tmp_path, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.anyio
async def test_backup_while_serving_then_restore_gives_a_working_data_folder(
        tmp_path: Path, slack: SlackStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory()
    await slack.send_command("U0ALICE", CHANNEL, "a lighthouse")
    await workspace.settle()
    thread_ts = cards(slack)[-1]["ts"]
    posted = slack.file_bytes(image_replies(slack, thread_ts)[-1]["files"][0]["id"])
    live = workspace.settings.data_dir
    target = tmp_path / "backups" / "2026-11-21"

    # The bot is running, its database open in WAL mode: the backup is taken beside it.
    code, out, err = await imagebot(tmp_path, live, "backup", str(target))
    assert code == 0, err
    assert f"backed up {live.resolve()} to {target}" in out and "image files: 1 " in out and "integrity ok" in out
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["counts"]["threads"] == 1 and manifest["files"] == 1

    code, _, err = await imagebot(tmp_path, live, "backup", str(target))
    assert code == 1 and "is not empty" in err  # never overwrites a backup

    restored_dir = tmp_path / "restored"
    code, out, err = await imagebot(tmp_path, restored_dir, "restore", str(target))
    assert code == 0, err
    assert f"into {restored_dir.resolve()}" in out and manifest["schema"] in out

    restored = Store.open(restored_dir)
    try:
        thread = restored.get_thread(ThreadKey(slack.team_id, CHANNEL, thread_ts))
        assert thread is not None and thread.last_image_id is not None
        assert sha(restored.image_bytes(thread.last_image_id)) == sha(posted)  # the very bytes Slack was given
    finally:
        restored.close()

    code, _, err = await imagebot(tmp_path, restored_dir, "restore", str(target))
    assert code == 1 and "--force" in err  # a data folder with data is not replaced by accident
    code, out, err = await imagebot(tmp_path, restored_dir, "restore", str(target), "--force")
    assert code == 0, err
    [aside] = restored_dir.glob("replaced-*")
    assert f"the data it replaced is in {aside}" in out and (aside / "imagebot.db").is_file()


@pytest.mark.anyio
async def test_a_damaged_backup_is_refused_and_nothing_is_restored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store.open(data)
    key = ThreadKey("T1", "C1", "1.0")
    store.start_thread(key, created_by="U1", prompt="x")
    record = store.save_image(b"\x89PNG not really", "png", origin="upload", key=key)
    store.set_last_image(key, record.id)
    store.close()
    code, _, err = await imagebot(tmp_path, data, "backup", str(tmp_path / "backup"))
    assert code == 0, err
    (tmp_path / "backup" / "images" / record.path).write_bytes(b"changed")

    code, _, err = await imagebot(tmp_path, tmp_path / "restored", "restore", str(tmp_path / "backup"))

    assert code == 1 and "does not match its sha256" in err and "Traceback" not in err
    assert not (tmp_path / "restored").exists()
