"""The export's output folder: built in a temp folder beside it and renamed into place at the
end (core.atomic.atomic_dir), so a crash or Ctrl-C leaves no half export. An existing folder is
only replaced when it holds an earlier export (its marker file), never a user's other files."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from core.atomic import atomic_dir
from core.errors import FacesynthError

MARKER = ".facesynth-export.json"  # hidden: image-folder and Hugging Face readers skip it


@contextmanager
def export_dir(out: str, record: dict):
    if "://" in out:
        raise FacesynthError(f"--out {out}: exports are written to a local folder; copy it to object storage afterwards")
    final = Path(out)
    if final.exists():
        if not final.is_dir():
            raise FacesynthError(f"--out {out}: is a file; give a folder path")
        if any(final.iterdir()) and not (final / MARKER).is_file():
            raise FacesynthError(f"--out {out}: folder exists and is not an earlier export; "
                                 "choose a new folder (an earlier export there would be replaced)")
    with atomic_dir(final, "export folder") as tmp:
        yield tmp
        (tmp / MARKER).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
