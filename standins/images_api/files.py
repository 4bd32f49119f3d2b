"""The Files API as batches use it: a file uploaded (multipart `file` + `purpose`), kept, and answered as OpenAI's
FileObject (openai-python `types/file_object.py`); batch output and error files are kept the same way."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from standins.images_api.bodies import Body
from standins.images_api.errors import Reject, api_error, invalid_value
from standins.images_api.facts import MB

#: `purpose` values POST /v1/files takes (openai-python `types/file_purpose.py`).
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: A batch input file may be up to 200 MB (openai-python `batch_create_params.py`, `input_file_id`).
MAX_BATCH_FILE_BYTES = 200 * MB
#: Files with purpose `batch` expire after 30 days by default (openai-python `file_create_params.py`).
BATCH_FILE_SECONDS = 30 * 24 * 3600


def new_id(prefix: str) -> str:
    """An object id in OpenAI's spelling: "file-…", "batch_…", "batch_req_…"."""
    return prefix + secrets.token_hex(12)


@dataclass
class StoredFile:
    """A file the stand-in holds: uploaded, or a batch's output or error file."""

    id: str
    filename: str
    purpose: str  # "batch" for inputs, "batch_output" for what a batch writes
    data: bytes
    created_at: int
    expires_at: int | None = None

    def object(self) -> dict[str, Any]:
        """OpenAI's FileObject (`status` and `status_details` are deprecated, and still sent)."""
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "expires_at": self.expires_at, "status_details": None}

    def lines(self) -> list[Any]:
        """The file's JSON lines, parsed (for tests; blank lines skipped)."""
        return [json.loads(line) for line in self.data.decode("utf-8").splitlines() if line.strip()]


def uploaded_file(body: Body, now: int) -> StoredFile:
    """The file a POST /v1/files form uploads, checked as OpenAI checks it; raises Reject. The lines of a batch file
    are not looked at here: the batch checks them while it is `validating`."""
    if body.problem is not None:
        raise body.problem
    if body.kind != "multipart":
        raise api_error(400, "Invalid Content-Type header; POST /v1/files takes multipart/form-data.")
    purposes = body.fields.get("purpose")
    if not purposes:
        raise api_error(400, "Missing required parameter: 'purpose'.", param="purpose",
                        code="missing_required_parameter")
    purpose = purposes[-1]
    if purpose not in PURPOSES:
        raise invalid_value("purpose", purpose, PURPOSES)
    uploads = body.files.get("file")
    if not uploads:
        raise api_error(400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    filename, _, data = uploads[-1]
    expires_at = None
    if purpose == "batch":
        if not filename.endswith(".jsonl"):
            raise api_error(400, "Invalid file format for Batch API. Must be .jsonl", param="file",
                            code="invalid_file_format")
        if len(data) > MAX_BATCH_FILE_BYTES:
            raise api_error(400, f"File is too large: {len(data):,} bytes; a batch input file may be up to "
                                 f"{MAX_BATCH_FILE_BYTES:,} bytes.", param="file", code="file_too_large")
        expires_at = now + BATCH_FILE_SECONDS
    return StoredFile(new_id("file-"), filename, purpose, data, now, expires_at)


def no_such_file(file_id: str, *, param: str = "id") -> Reject:
    """OpenAI's 404 for a file id it does not have."""
    return api_error(404, f"No such File object: {file_id}", param=param)
