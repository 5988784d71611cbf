"""Scene randomization, pyrender via EGL, landmarks and ArcFace alignment."""
