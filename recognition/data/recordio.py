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

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    if len(record) < _IR.size:
        raise ValueError("record shorter than its IRHeader")
    flag, label, id1, id2 = _IR.unpack_from(record)
    body = record[_IR.size:]
    if flag > 0:
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


def write_recordio(rec_path: str | Path, records: list[bytes], keys: list[int] | None = None) -> None:
    """Write payloads (already packed) to .rec and .idx, atomically (temp names, then rename)."""
    rec_path = Path(rec_path)
    idx_path = rec_path.with_suffix(".idx")
    keys = list(range(len(records))) if keys is None else keys
    tmp_rec, tmp_idx = rec_path.with_name(rec_path.name + ".tmp"), idx_path.with_name(idx_path.name + ".tmp")
    offset, lines = 0, []
    with open(tmp_rec, "wb") as f:
        for key, payload in zip(keys, records):
            blob = encode_record(payload)
            lines.append(f"{key}\t{offset}\n")
            f.write(blob)
            offset += len(blob)
    tmp_idx.write_text("".join(lines))
    os.replace(tmp_rec, rec_path)
    os.replace(tmp_idx, idx_path)


class RecordIOReader:
    """Random access by key. Opens its file lazily so it can be shipped to DataLoader workers."""

    def __init__(self, rec_path: str | Path):
        self.rec_path = Path(rec_path)
        self.idx_path = self.rec_path.with_suffix(".idx")
        for p in (self.rec_path, self.idx_path):
            if not p.is_file():
                raise FacesynthError(f"{p}: not found; RecordIO needs train.rec with train.idx beside it")
        self.offsets: dict[int, int] = {}
        for n, line in enumerate(self.idx_path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split("\t")
            try:
                self.offsets[int(parts[0])] = int(parts[1])
            except (ValueError, IndexError):
                raise FacesynthError(f"{self.idx_path}:{n}: expected 'key<TAB>offset'; regenerate the .idx") from None
        self._fh = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fh"] = None
        return state

    @property
    def keys(self) -> list[int]:
        return list(self.offsets)

    def read(self, key: int) -> bytes:
        if self._fh is None:
            self._fh = open(self.rec_path, "rb")
        f = self._fh
        f.seek(self.offsets[key])
        parts = []
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise FacesynthError(f"{self.rec_path}: truncated record {key}; the file is damaged")
            magic, lrec = struct.unpack("<II", head)
            if magic != MAGIC:
                raise FacesynthError(f"{self.rec_path}: bad magic at record {key}; .idx does not match this .rec")
            cflag, length = lrec >> 29, lrec & _LEN_MASK
            parts.append(f.read(length))
            f.read(-length % 4)
            if cflag in (0, 3):
                break
            parts.append(_MAGIC_BYTES)  # the split point held a magic number
        return b"".join(parts)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _label(h: IRHeader) -> int:
    return int(h.label[0] if isinstance(h.label, tuple) else h.label)


class RecordIOSource:
    """An insightface training set: items are (encoded image, label)."""

    def __init__(self, path: str | Path):
        p = Path(path)
        rec = p / "train.rec" if p.is_dir() else p
        self.reader = RecordIOReader(rec)
        self.name = p.name
        first = unpack(self.reader.read(0))[0] if 0 in self.reader.offsets else None
        if first is not None and first.flag > 0:
            # insightface header record: images are 1 .. label[0]-1, identities label[0] .. label[1]-1.
            lo, hi = int(first.label[0]), int(first.label[1])
            self.keys = np.arange(1, lo, dtype=np.int64)
            self.num_classes = hi - lo
            self._remap = None
        else:
            self.keys = np.array(sorted(self.reader.offsets), dtype=np.int64)
            labels = np.array([_label(unpack(self.reader.read(int(k)))[0]) for k in self.keys])
            uniq = np.unique(labels)
            self._remap = {int(v): i for i, v in enumerate(uniq)}
            self.num_classes = len(uniq)
        if len(self.keys) == 0:
            raise FacesynthError(f"{rec}: holds no image records")

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, i: int) -> tuple[bytes, int]:
        header, img = unpack(self.reader.read(int(self.keys[i])))
        label = _label(header)
        if self._remap is not None:
            label = self._remap[label]
        elif not 0 <= label < self.num_classes:
            raise FacesynthError(f"{self.reader.rec_path}: record {int(self.keys[i])} has label {label} outside the "
                                 f"header's {self.num_classes} identities; the set is damaged")
        return img, label
