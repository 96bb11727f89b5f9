"""What an uploaded media file holds: WAV or MP3, told from its bytes, never from what the client
says it is (Kazoo's cb_media takes the upload's Content-Type; a file FreeSWITCH cannot open
would only show at call time, as an error in its log and silence for the caller).

FreeSWITCH picks the file format module by the file's extension: `.wav` is read by mod_sndfile,
`.mp3` by mod_shout. So the kind found here decides the stored file's extension, and the stored
document's `content_type` is the kind's (served back by `/raw`).

- WAV: a RIFF chunk of form `WAVE`, a `fmt ` chunk with a format and shape libsndfile reads
  (PCM, IEEE float, A-law, mu-law, IMA/MS ADPCM, GSM 6.10 or the extensible header; 1..8
  channels; 8..192 kHz) and a `data` chunk.
- MP3: an optional ID3v2 tag, then two consecutive MPEG audio layer III frame headers (one
  header alone is four bytes that random data matches too often), or one frame that is the
  whole file.
"""

from __future__ import annotations

import dataclasses
import struct


class AudioError(ValueError):
    """The bytes are not audio this controller stores; the message says why, for the client."""


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str  # for messages: WAV, MP3
    content_type: str  # what is stored and served back
    extension: str  # what FreeSWITCH chooses its format module by
    aliases: frozenset[str]  # the Content-Types clients send for it (Kazoo's media schema's)


WAV = Kind("WAV", "audio/wav", "wav", frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}))
MP3 = Kind("MP3", "audio/mpeg", "mp3", frozenset({"audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg"}))
KINDS = (WAV, MP3)
# Declares nothing: the bytes decide.
UNDECLARED = frozenset({"application/octet-stream", "binary/octet-stream"})

_WAV_FORMATS = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0xFFFE}
# MPEG-1, MPEG-2 and MPEG-2.5 layer III bit rates (kbit/s) and sample rates (Hz).
_BITRATES = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
             2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def kind_of_type(content_type: str) -> Kind | None:
    """The kind a Content-Type (or a stored `content_type`) names; None for any other."""
    base = content_type.split(";", 1)[0].strip().lower()
    return next((kind for kind in KINDS if base in kind.aliases), None)


def sniff(data: bytes) -> Kind:
    """The kind of audio `data` is; AudioError when it is neither WAV nor MP3 as described above."""
    if not data:
        raise AudioError("the file is empty")
    if data[:4] == b"RIFF":
        _check_wav(data)
        return WAV
    if _is_mp3(data):
        return MP3
    raise AudioError("the file is neither WAV (RIFF/WAVE) nor MP3 (MPEG audio layer III)")


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """The first of each chunk of a RIFF file (a truncated last chunk keeps what is there)."""
    found: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        name, size = data[offset:offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        found.setdefault(name, data[offset + 8:offset + 8 + size])
        offset += 8 + size + (size & 1)
    return found


def _check_wav(data: bytes) -> None:
    if data[8:12] != b"WAVE":
        raise AudioError("the RIFF file is not WAVE audio")
    chunks = _chunks(data)
    fmt = chunks.get(b"fmt ", b"")
    if len(fmt) < 16:
        raise AudioError("the WAV file has no format chunk")
    code, channels, rate = struct.unpack_from("<HHI", fmt)
    if code not in _WAV_FORMATS:
        raise AudioError(f"the WAV file's audio format {code:#06x} cannot be played")
    if not 1 <= channels <= 8 or not 8000 <= rate <= 192000:
        raise AudioError(f"the WAV file has {channels} channels at {rate} Hz (1 to 8 channels, 8 to 192 kHz)")
    if not chunks.get(b"data"):
        raise AudioError("the WAV file has no audio data")


def _is_mp3(data: bytes) -> bool:
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = data[6:10]
        if any(b & 0x80 for b in size):
            return False
        start = 10 + (size[0] << 21 | size[1] << 14 | size[2] << 7 | size[3]) + (10 if data[5] & 0x10 else 0)
    length = _frame_length(data, start)
    if length is None:
        return False
    return start + length == len(data) or _frame_length(data, start + length) is not None


def _frame_length(data: bytes, at: int) -> int | None:
    """The length of the layer III frame whose header is at `at`, None when there is none."""
    if at + 4 > len(data) or data[at] != 0xFF or data[at + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (data[at + 1] >> 3) & 3, (data[at + 1] >> 1) & 3
    bitrate_index, rate_index, padding = data[at + 2] >> 4, (data[at + 2] >> 2) & 3, (data[at + 2] >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _BITRATES[3 if version == 3 else 2][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    return (144 if version == 3 else 72) * bitrate // rate + padding
