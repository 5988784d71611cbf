"""Backbones, ArcFace, data readers, training (Ray Train) and verification."""
