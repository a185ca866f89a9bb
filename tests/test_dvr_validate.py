"""DT-11 checks of one file: the MP4 box walk and ffprobe, on crafted and ffmpeg-made files."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

from guarita.adapters.dvr.validate import check_boxes, validate_segment
from guarita.standin.dvr_media import make_segment


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# covers DT-11
def test_the_box_walk_names_what_is_wrong(tmp_path: Path) -> None:
    ftyp = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2")
    good = write(tmp_path, "good.mp4", ftyp + box(b"moov", b"x" * 20) + box(b"mdat", b"y" * 100))
    assert check_boxes(good) == (None, "isom")
    large = ftyp + struct.pack(">I4sQ", 1, b"mdat", 16 + 50) + b"z" * 50 + box(b"moov")
    assert check_boxes(write(tmp_path, "large.mp4", large))[0] is None, "64-bit box sizes are read"
    to_end = ftyp + box(b"moov") + struct.pack(">I4s", 0, b"mdat") + b"z" * 30
    assert check_boxes(write(tmp_path, "to_end.mp4", to_end))[0] is None, "size 0 runs to the end of the file"
    problems = {
        "no_ftyp.mp4": (box(b"moov") + box(b"mdat"), "it starts with 'moov', not an 'ftyp' box"),
        "tiny_box.mp4": (ftyp + struct.pack(">I4s", 4, b"free"), "impossible size 4"),
        "stray.mp4": (ftyp + box(b"moov") + box(b"mdat") + b"\x00\x01", "2 stray bytes"),
        "no_moov.mp4": (ftyp + box(b"mdat", b"y" * 10), "no 'moov' box"),
        "cut.mp4": (ftyp + box(b"moov") + struct.pack(">I4s", 1000, b"mdat") + b"y" * 10, "truncated: box 'mdat'"),
        "mkv.mp4": (b"\x1a\x45\xdf\xa3" + b"\x00" * 40, "Matroska"),
    }
    for name, (data, words) in problems.items():
        problem, _brand = check_boxes(write(tmp_path, name, data))
        assert problem is not None and words in problem, (name, problem)


# covers DT-11
async def test_ffprobe_refuses_quicktime_audio_only_and_empty_files(tmp_path: Path) -> None:
    mov = tmp_path / "20261120080000.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5", "-t", "60",
         "-c:v", "libx264", "-preset", "ultrafast", "-f", "mov", str(mov)],
        check=True,
    )
    assert (await validate_segment(mov)).reason == "not an MP4 container: QuickTime .mov (brand 'qt  ')"
    audio = tmp_path / "audio.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "60", "-c:a", "aac",
         str(audio)],
        check=True,
    )
    assert (await validate_segment(audio)).reason == "no video stream"
    garbage = tmp_path / "garbage.mp4"
    ftyp = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2")
    garbage.write_bytes(ftyp + box(b"moov", b"\x00" * 64) + box(b"mdat", b"\x00" * 64))
    assert (await validate_segment(garbage)).reason == "no video stream", "well-formed boxes holding no track"
    assert (await validate_segment(tmp_path / "missing.mp4")).reason == "unreadable: No such file or directory"
    ok = make_segment(tmp_path / "ok.mp4", 60)
    verdict = await validate_segment(ok)
    assert verdict.valid and verdict.codec == "h264" and verdict.duration_s is not None
