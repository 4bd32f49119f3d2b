"""Files: the files_upload_v2 flow (files.getUploadURLExternal, the upload URL, files.completeUploadExternal),
files.info, and url_private downloads."""

from __future__ import annotations

import copy
from urllib.parse import quote

from aiohttp import web

from standins.slack.delivery import AppDelivery
from standins.slack.faults import Faults
from standins.slack.payloads import bearer, decode_blocks, decode_json, in_message, read_upload
from standins.slack.records import JSON, ApiError

LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Slack</title></head>"
    "<body><h1>Sign in to Slack</h1><form action='/signin'>…</form></body></html>"
)


class FileMethods(AppDelivery, Faults):
    """The file methods and the upload and download URLs they hand out."""

    def _files_get_upload_url(self, p: JSON) -> JSON:
        filename, given = p.get("filename"), p.get("length")
        if given is None:
            raise ApiError("invalid_arguments")
        try:
            length = int(given)
        except (TypeError, ValueError):
            raise ApiError("invalid_arguments") from None
        if not filename:
            raise ApiError("invalid_arguments")
        if length <= 0:
            raise ApiError("missing_argument")  # Slack's answer for length=0
        if len(p.get("alt_txt") or "") > 1000:
            raise ApiError("alt_txt_too_large")
        file_id = self._new_id("F")
        self._uploads[file_id] = {"filename": filename, "length": length, "alt_txt": p.get("alt_txt"),
                                  "data": None}
        return {"upload_url": f"{self.base_url}upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, p: JSON) -> JSON:
        entries = decode_json(p.get("files"))
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise ApiError("invalid_arguments")
        for entry in entries:  # never uploaded, unknown, or already completed (this method works once)
            upload = self._uploads.get(entry.get("id", ""))
            if upload is None or upload["data"] is None:
                raise ApiError("file_not_found")
        channel_ids = [c for c in [p.get("channel_id"), *str(p.get("channels") or "").split(",")] if c]
        channels = [self._channel(c) for c in dict.fromkeys(channel_ids)]
        for channel in channels:
            self._require_bot_member(channel)
        thread_ts = p.get("thread_ts")
        if thread_ts:
            parent = self._find(channels[0]["id"], thread_ts) if len(channels) == 1 else None
            # The docs: "Never use a reply's ts value; use its parent instead." Enforced here.
            if parent is None or parent.get("thread_ts", parent["ts"]) != parent["ts"]:
                raise ApiError("thread_not_found")
        files = []
        for entry in entries:
            upload = self._uploads.pop(entry["id"])
            files.append(self._store_file(entry["id"], upload["filename"], upload["data"], user=self.bot_user_id,
                                          title=entry.get("title"), alt_txt=upload["alt_txt"]))
        comment = p.get("initial_comment")
        blocks = None if comment else decode_blocks(p.get("blocks"))  # blocks are ignored with a comment
        for channel in channels:
            self._bot_message(channel["id"], comment or "", blocks=blocks, thread_ts=thread_ts, files=files)
        # Like Slack: no message ts, and the file objects are not processed yet.
        return {"files": [{**in_message(f), "mimetype": "", "filetype": ""} for f in files]}

    def _files_info(self, p: JSON) -> JSON:
        file = self._files.get(p.get("file", ""))
        if file is None:
            raise ApiError("file_not_found")
        return {"file": copy.deepcopy(file), "comments": [], "response_metadata": {"next_cursor": ""}}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        params = {"file_id": request.match_info["file_id"]}
        response = await self._take_fault("upload") or await self._upload(params, request)
        self._record("upload", params, request, None, response.status)
        return response

    async def _upload(self, params: JSON, request: web.Request) -> web.Response:
        upload = self._uploads.get(params["file_id"])
        if upload is None:  # unknown, or already completed
            return web.Response(status=404, text="Not Found")
        upload["data"] = data = await read_upload(request)
        params["size"] = len(data)
        return web.Response(text=f"OK - {len(data)}")  # text/plain, as files.slack.com answers

    async def _handle_download(self, request: web.Request) -> web.Response:
        team_id, _, file_id = request.match_info["team_file"].partition("-")
        token = bearer(request)
        response = await self._take_fault("download") or self._download(team_id, file_id, token, request.path)
        self._record("download", {"file_id": file_id, "path": request.path}, request, token, response.status)
        return response

    def _download(self, team_id: str, file_id: str, token: str | None, path: str) -> web.Response:
        if not self._token_valid(token):
            # Slack's quirk: no (or a wrong) token yields a 200 HTML sign-in page instead of the file.
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        if team_id != self.team_of(token) or file_id not in self._files:  # another workspace's file
            return web.Response(status=404, text="Not Found")
        file, headers = self._files[file_id], {}
        if "/download/" in path:
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(file['name'])}"
        return web.Response(body=self._file_bytes[file_id], content_type=file["mimetype"], headers=headers)
