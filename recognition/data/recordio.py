"""insightface RecordIO (train.rec + train.idx) read and written without mxnet.

Format (dmlc-core recordio + mxnet.recordio.pack):
- each record: uint32 magic 0xced7230a, uint32 lrecord (cflag in the top 3 bits, length in
  the lower 29), the payload, zero padding to a multiple of 4 bytes. A payload that contains
  the magic at a 4-byte-aligned offset is split there into parts (cflag 1 = first, 2 = middle,
  3 = last); the reader joins the parts with the magic between them.
- payload: IRHeader struct 'IfQQ' (flag, label, id, id2); if flag > 0, flag float32 labels
  follow; then the encoded image.
- .idx: text lines "key<TAB>offset".
- insightface sets: record 0 is a header whose labels are (first identity record, end), and
  records [first, end) describe identities; images are records 1 .. first-1.
"""
from __future__ import annotations

import json
import math
import os
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_text, fsync_dir, temp_name
from core.errors import FacesynthError

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_IR = struct.Struct("<IfQQ")
_LEN_MASK = (1 << 29) - 1


@dataclass(frozen=True)
class IRHeader:
    flag: int
    label: float | tuple[float, ...]
    id: int
    id2: int


def pack(header: IRHeader, payload: bytes) -> bytes:
    """mxnet.recordio.pack: a scalar label goes in the struct, a vector after it."""
    if isinstance(header.label, (tuple, list, np.ndarray)):
        labels = np.asarray(header.label, dtype=np.float32)
        return _IR.pack(len(labels), 0.0, header.id, header.id2) + labels.tobytes() + payload
    return _IR.pack(0, float(header.label), header.id, header.id2) + payload


def unpack(record: bytes) -> tuple[IRHeader, bytes]:
    """(header, image bytes) of a record; ValueError where the header does not fit the record."""
    if len(record) < _IR.size:
        raise ValueError("record shorter than its IRHeader")
    flag, label, id1, id2 = _IR.unpack_from(record)
    body = record[_IR.size:]
    if flag > 0:
        if 4 * flag > len(body):
            raise ValueError(f"header announces {flag} labels but the record holds {len(body) // 4}")
        labels = np.frombuffer(body[:4 * flag], dtype=np.float32)
        return IRHeader(flag, tuple(float(v) for v in labels), id1, id2), body[4 * flag:]
    return IRHeader(0, label, id1, id2), body


def _lrec(cflag: int, length: int) -> bytes:
    return struct.pack("<I", (cflag << 29) | length)


def encode_record(payload: bytes) -> bytes:
    """One record's bytes as dmlc's RecordIOWriter writes them (splitting at aligned magics)."""
    out, start = [], 0
    for i in range(0, len(payload) - 3, 4):
        if payload[i:i + 4] == _MAGIC_BYTES:
            out += [_MAGIC_BYTES, _lrec(1 if start == 0 else 2, i - start), payload[start:i]]
            start = i + 4
    tail = payload[start:]
    out += [_MAGIC_BYTES, _lrec(3 if start else 0, len(tail)), tail, b"\0" * (-len(tail) % 4)]
    return b"".join(out)


PENDING_SUFFIX = ".pending"  # beside the .rec while a pair is being committed


def _pending_path(rec_path: Path) -> Path:
    return rec_path.with_name(rec_path.name + PENDING_SUFFIX)


def _finish_pending(rec_path: Path) -> None:
    """Roll an interrupted pair commit forward (both temp files were complete and fsynced before
    the marker was written), so .rec and .idx always belong together."""
    marker = _pending_path(rec_path)
    if not marker.is_file():
        return
    try:
        names = json.loads(marker.read_text())
        pairs = [(rec_path.with_name(names["rec"]), rec_path),
                 (rec_path.with_name(names["idx"]), rec_path.with_suffix(".idx"))]
    except (OSError, ValueError, KeyError, TypeError):
        raise FacesynthError(f"{marker}: damaged commit marker of an interrupted write; "
                             "rewrite the RecordIO pair") from None
    try:
        for tmp, final in pairs:
            if tmp.exists():
                os.replace(tmp, final)
        fsync_dir(rec_path.parent)
        marker.unlink(missing_ok=True)
        fsync_dir(rec_path.parent)
    except OSError as e:
        raise FacesynthError(f"{rec_path}: an interrupted write left a pair half-committed and it cannot be "
                             f"finished here ({e.strerror}); rerun in a writable folder") from None


def write_recordio(rec_path: str | Path, records: list[bytes], keys: list[int] | None = None) -> None:
    """Write payloads (already packed) to .rec and .idx, committed as a pair.

    Both files are written under temp names and fsynced; then a small marker naming them is
    committed, the two renames follow, and the marker goes last. A crash before the marker
    leaves the old pair; after it, the next reader or writer finishes the renames. So a
    reader never sees a .rec with another write's .idx."""
    rec_path = Path(rec_path)
    idx_path = rec_path.with_suffix(".idx")
    keys = list(range(len(records))) if keys is None else list(keys)
    if len(keys) != len(records):
        raise ValueError("keys and records differ in length")
    _finish_pending(rec_path)
    tag = uuid.uuid4().hex[:12]
    tmp_rec, tmp_idx = temp_name(rec_path, tag), temp_name(idx_path, tag)
    try:
        offset, lines = 0, []
        with open(tmp_rec, "wb") as f:
            for key, payload in zip(keys, records):
                blob = encode_record(payload)
                lines.append(f"{key}\t{offset}\n")
                f.write(blob)
                offset += len(blob)
            f.flush()
            os.fsync(f.fileno())
        with open(tmp_idx, "w", encoding="ascii") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
        atomic_write_text(_pending_path(rec_path), json.dumps({"rec": tmp_rec.name, "idx": tmp_idx.name}))
    except BaseException:
        tmp_rec.unlink(missing_ok=True)
        tmp_idx.unlink(missing_ok=True)
        raise
    _finish_pending(rec_path)


MAX_RECORD_BYTES = 256 << 20  # one face image record is KBs; more means a damaged file
_MAX_KEY = (1 << 63) - 1


class RecordIOReader:
    """Random access by key. Opens its file lazily so it can be shipped to DataLoader workers.

    Every offset is checked against the .rec's size when the .idx is read, and every record
    length against the bytes left when a record is read, so a damaged pair fails with one line
    instead of a short read passing silently or a huge allocation."""

    def __init__(self, rec_path: str | Path):
        self.rec_path = Path(rec_path)
        self.idx_path = self.rec_path.with_suffix(".idx")
        _finish_pending(self.rec_path)
        for p in (self.rec_path, self.idx_path):
            if not p.is_file():
                raise FacesynthError(f"{p}: not found; RecordIO needs train.rec with train.idx beside it")
        self.size = self.rec_path.stat().st_size
        self.offsets: dict[int, int] = {}
        try:
            text = self.idx_path.read_text(encoding="ascii")
        except UnicodeDecodeError:
            raise FacesynthError(f"{self.idx_path}: not a text index (non-ASCII bytes); regenerate the .idx") from None
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split("\t")
            try:
                if len(parts) != 2:
                    raise ValueError
                key, off = int(parts[0]), int(parts[1])
            except ValueError:
                raise FacesynthError(f"{self.idx_path}:{n}: expected 'key<TAB>offset'; regenerate the .idx") from None
            if not 0 <= key <= _MAX_KEY or key in self.offsets:
                raise FacesynthError(f"{self.idx_path}:{n}: key {key} is negative, too large or repeated; "
                                     "regenerate the .idx")
            if not 0 <= off <= self.size - 8 or off % 4:
                raise FacesynthError(f"{self.idx_path}:{n}: offset {off} is outside {self.rec_path.name} "
                                     f"({self.size} bytes) or not 4-byte aligned; .idx does not match this .rec")
            self.offsets[key] = off
        self._fh = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fh"] = None
        return state

    @property
    def keys(self) -> list[int]:
        return list(self.offsets)

    def _damaged(self, key: int, what: str) -> FacesynthError:
        return FacesynthError(f"{self.rec_path}: record {key}: {what}; the file is damaged or .idx does not match it")

    def read(self, key: int) -> bytes:
        if key not in self.offsets:
            raise FacesynthError(f"{self.idx_path}: no record with key {key}; the index is incomplete")
        if self._fh is None:
            self._fh = open(self.rec_path, "rb")
        f = self._fh
        pos = self.offsets[key]
        f.seek(pos)
        parts, total, first = [], 0, True
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise self._damaged(key, "truncated record header")
            magic, lrec = struct.unpack("<II", head)
            if magic != MAGIC:
                raise FacesynthError(f"{self.rec_path}: bad magic at record {key}; .idx does not match this .rec")
            cflag, length = lrec >> 29, lrec & _LEN_MASK
            if cflag > 3 or (first and cflag in (2, 3)) or (not first and cflag in (0, 1)):
                raise self._damaged(key, f"part flag {cflag} out of sequence")
            pos += 8
            pad = -length % 4
            total += length + (0 if first else 4)
            if pos + length + pad > self.size or total > MAX_RECORD_BYTES:
                raise self._damaged(key, f"length {length} runs past the end of the file")
            data = f.read(length)
            if len(data) != length:
                raise self._damaged(key, "short read")
            parts.append(data)
            f.seek(pad, 1)
            pos += length + pad
            first = False
            if cflag in (0, 3):
                break
            parts.append(_MAGIC_BYTES)  # the split point held a magic number
        return b"".join(parts)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


_MAX_LABEL = 1 << 31  # class labels and identity counts fit int32, as in insightface


def _label(h: IRHeader) -> int:
    v = h.label[0] if isinstance(h.label, tuple) else h.label
    if not (math.isfinite(v) and 0 <= v < _MAX_LABEL):
        raise ValueError(f"label {v} is not a class index")
    return int(v)


class RecordIOSource:
    """An insightface training set: items are (encoded image, label)."""

    def __init__(self, path: str | Path):
        p = Path(path)
        rec = p / "train.rec" if p.is_dir() else p
        self.reader = RecordIOReader(rec)
        self.name = p.name
        first = self._unpack(0)[0] if 0 in self.reader.offsets else None
        if first is not None and first.flag > 0:
            # insightface header record: images are 1 .. label[0]-1, identities label[0] .. label[1]-1.
            lo, hi = (first.label + (float("nan"),))[:2]
            if not (first.flag >= 2 and math.isfinite(lo) and math.isfinite(hi)
                    and 1 <= lo <= hi <= _MAX_LABEL and lo - 1 <= len(self.reader.offsets)):
                raise FacesynthError(f"{rec}: header record 0 holds ({lo}, {hi}), not a valid "
                                     f"(first identity record, end) for {len(self.reader.offsets)} records; "
                                     "the set is damaged")
            lo, hi = int(lo), int(hi)
            self.keys = np.arange(1, lo, dtype=np.int64)
            missing = [int(k) for k in self.keys if int(k) not in self.reader.offsets]
            if missing:
                raise FacesynthError(f"{rec}: the header lists images 1..{lo - 1} but .idx has no key {missing[0]}; "
                                     "the set is damaged")
            self.num_classes = hi - lo
            self._remap = None
        else:
            self.keys = np.array(sorted(self.reader.offsets), dtype=np.int64)
            labels = np.array([self._label(int(k)) for k in self.keys], dtype=np.int64)
            uniq = np.unique(labels)
            self._remap = {int(v): i for i, v in enumerate(uniq)}
            self.num_classes = len(uniq)
        if len(self.keys) == 0:
            raise FacesynthError(f"{rec}: holds no image records")

    def _unpack(self, key: int) -> tuple[IRHeader, bytes]:
        try:
            return unpack(self.reader.read(key))
        except ValueError as e:
            raise FacesynthError(f"{self.reader.rec_path}: record {key}: {e}; the set is damaged") from None

    def _label(self, key: int, header: IRHeader | None = None) -> int:
        try:
            return _label(header if header is not None else self._unpack(key)[0])
        except ValueError as e:
            raise FacesynthError(f"{self.reader.rec_path}: record {key}: {e}; the set is damaged") from None

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, i: int) -> tuple[bytes, int]:
        key = int(self.keys[i])
        header, img = self._unpack(key)
        label = self._label(key, header)
        if self._remap is not None:
            label = self._remap[label]
        elif not 0 <= label < self.num_classes:
            raise FacesynthError(f"{self.reader.rec_path}: record {key} has label {label} outside the "
                                 f"header's {self.num_classes} identities; the set is damaged")
        return img, label
