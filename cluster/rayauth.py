"""Ray's token authentication (Ray >= 2.5x) for clients of an existing cluster.

A cluster started with token auth rejects clients that do not send its token. Ray's own CLI
enables sending it when a token is configured on this machine; `facesynth` does the same for
`generate --address` and `submit`: RAY_AUTH_TOKEN, else the file at RAY_AUTH_TOKEN_PATH, else
~/.ray/auth_token. An explicit RAY_AUTH_MODE is always respected.
"""
from __future__ import annotations

import os
from pathlib import Path


def token() -> str | None:
    tok = os.environ.get("RAY_AUTH_TOKEN")
    if tok:
        return tok.strip()
    p = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    try:
        return p.read_text().strip() or None
    except OSError:
        return None


def enable_for_join() -> None:
    """Before ray.init(address=...): send the token where one is configured."""
    if "RAY_AUTH_MODE" in os.environ or not token():
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    try:  # Ray reads its mode once per process: make it read it again (as Ray's CLI does)
        from ray._raylet import Config
        Config.initialize("")
    except (ImportError, AttributeError):  # older Ray: no token auth at all
        pass


def http_headers() -> dict[str, str]:
    """Headers for the Jobs API (JobSubmissionClient)."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return {}
    tok = token()
    return {"Authorization": f"Bearer {tok}"} if tok else {}
