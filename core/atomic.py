"""Write a folder so that readers see the old one or the complete new one, never a half."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from core.errors import FacesynthError


@contextmanager
def atomic_dir(final: Path, what: str = "output folder"):
    """Yield a temp folder beside `final`; on a clean exit it replaces `final` by rename,
    on any error (or Ctrl-C) it is removed and `final` is left as it was."""
    final = Path(final)
    parent = final.parent if str(final.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=parent))
    except OSError as e:
        raise FacesynthError(f"{final}: cannot create the {what} ({e.strerror}); choose a writable location") from None
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        old = None
        if final.exists():
            old = parent / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
