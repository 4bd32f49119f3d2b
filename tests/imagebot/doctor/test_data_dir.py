"""The Storage section: the data dir and its disk, and a damaged database failed instead of looking empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imagebot.doctor.checklist import FAIL, OK, WARN
from imagebot.doctor.data_dir import storage_checks
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from tests.imagebot.doctor.helpers import env_for, line, run

pytestmark = pytest.mark.anyio


async def test_a_damaged_database_fails_instead_of_looking_empty(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                 tmp_path: Path) -> None:
    env = env_for(slack, image_api, tmp_path, SLACK_BOT_TOKEN="", SLACK_APP_TOKEN="",
                  SLACK_SIGNING_SECRET="0123456789abcdef" * 2, SLACK_CLIENT_ID=slack.client_id,
                  SLACK_CLIENT_SECRET=slack.client_secret)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "imagebot.db").write_bytes(b"not a database at all, " * 100)
    status, output = await run(env)
    assert status == 1
    assert line(output, "Database").startswith("[FAIL] Database: ") and "imagebot restore" in output
    assert "no workspace has installed" not in output


def test_data_dir_and_free_disk(tmp_path: Path) -> None:
    assert [c.status for c in storage_checks(tmp_path)] == [OK, OK]
    assert not list(tmp_path.iterdir())  # the probe file is gone
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    data_dir, _ = storage_checks(tmp_path / "file")
    assert data_dir.status == FAIL and "is not a folder" in data_dir.detail and "IMAGEBOT_DATA_DIR" in data_dir.fix
    _, disk = storage_checks(tmp_path, min_free_bytes=2**62, low_free_bytes=2**63)
    assert disk.status == FAIL and "IMAGEBOT_RETENTION_DAYS" in disk.fix
    _, disk = storage_checks(tmp_path, min_free_bytes=0, low_free_bytes=2**63)
    assert disk.status == WARN
