"""Judges: models trained on real faces that check what we render.

- `mtcnn`: the MTCNN detector (facenet-pytorch's shipped weights) -- is a face found, and do its
  5 points agree with ours? `detection` runs it per |yaw| bin.
- `face_id`: dlib's ResNet face recogniser -- do different identities look like different people,
  and one identity like one person across pose, expression and age?

Judges only read images and landmarks; they never feed back into what a render looks like except
through the optional identity filter (render/identity_filter.py).
"""
