"""Media files uploaded through the panel: recognised by their first bytes, not their name.

A practice's media is audio, video or an image the app plays or shows. The browser's
Content-Type and the file name are the uploader's claims; the signature at the start of the
file decides, so a renamed document is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import UploadFile

from service.admin.security import format_size

ALLOWED_DESCRIPTION = "audio (MP3, M4A, OGG, WAV), video (MP4, WebM) or an image (PNG, JPEG, WebP)"


@dataclass(frozen=True)
class Kind:
    content_type: str
    extension: str
    matches: Callable[[bytes], bool]


def _mp3(head: bytes) -> bool:
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


KINDS = (
    Kind("audio/mpeg", ".mp3", _mp3),
    Kind("audio/wav", ".wav", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WAVE"),
    Kind("audio/ogg", ".ogg", lambda h: h.startswith(b"OggS")),
    Kind("image/webp", ".webp", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    Kind("image/png", ".png", lambda h: h.startswith(b"\x89PNG\r\n\x1a\n")),
    Kind("image/jpeg", ".jpg", lambda h: h.startswith(b"\xff\xd8\xff")),
    Kind("video/webm", ".webm", lambda h: h.startswith(b"\x1a\x45\xdf\xa3")),
    # ISO base media (MP4, M4A): a box named `ftyp` first; M4A brands say audio.
    Kind("audio/mp4", ".m4a", lambda h: h[4:8] == b"ftyp" and h[8:11] == b"M4A"),
    Kind("video/mp4", ".mp4", lambda h: h[4:8] == b"ftyp"),
)


class MediaRefused(ValueError):
    pass


async def recognise(upload: UploadFile, max_bytes: int) -> Kind:
    size = upload.size
    if size is None:
        upload.file.seek(0, 2)
        size = upload.file.tell()
    if size == 0:
        raise MediaRefused("The file is empty.")
    if size > max_bytes:
        raise MediaRefused(f"The file is larger than {format_size(max_bytes)}.")
    await upload.seek(0)
    head = await upload.read(16)
    await upload.seek(0)
    for kind in KINDS:
        if kind.matches(head):
            return kind
    raise MediaRefused(f"This file is not {ALLOWED_DESCRIPTION}.")


def media_key(practice_id: str, kind: Kind) -> str:
    # A new key per upload: users holding a signed URL to the old media keep a working link.
    return f"practices/{practice_id}/{uuid.uuid4().hex}{kind.extension}"
