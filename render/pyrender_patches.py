"""What facesynth changes in pyrender 0.1.45, applied once per process by `apply()`.

Each patch keeps pyrender's output and removes work or a hard-coded choice:
- multisampling: pyrender hard-codes 4 samples; its call is routed through our setting (0 = off).
- blending: alpha accumulates as "over" (src + (1 - src) dst), so a blended part (a tinted lens)
  cannot make the frame's alpha (face coverage) see-through. Opaque draws (src alpha 1) are unchanged.
- uniform locations: pyrender asks GL for a uniform's location on every set (about 90 per image);
  a program's locations never change, so each is asked once.
- lighting: pyrender binds every light's uniforms again for every primitive drawn; the lights are
  the same for the whole frame and a program keeps its uniforms, so each program gets them once
  per frame. (pyrender would re-sort lights by distance per node only with more lights than its
  maximum, which a facesynth scene never has: render/scene.py draws at most 3.)
With the faster vertex normals of render/mesh.py they add ~5% to the images/s of one llvmpipe core
(bench/render.py's loop, six interleaved runs each: 27.7 against 26.3) and change no byte.
"""
from __future__ import annotations

import numpy as np

_SAMPLES = [0]
_APPLIED = [False]


def set_msaa_samples(n: int) -> None:
    _SAMPLES[0] = int(n)


def apply() -> None:
    if _APPLIED[0]:
        return
    import pyrender.renderer as prr
    from OpenGL import GL
    from pyrender.shader_program import ShaderProgram

    orig_ms = prr.glRenderbufferStorageMultisample
    prr.glRenderbufferStorageMultisample = lambda target, _n, *a: orig_ms(target, _SAMPLES[0], *a)
    prr.glBlendFunc = lambda s, d: GL.glBlendFuncSeparate(s, d, GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)

    def set_uniform(self, name, value, unsigned=False):
        locs = self.__dict__.setdefault("_facesynth_locs", {})
        loc = locs.get(name)
        if loc is None:
            loc = locs[name] = GL.glGetUniformLocation(self._program_id, name)
        if loc == -1:  # pyrender ignores names a shader does not use; so do we
            return
        if isinstance(value, np.ndarray):
            if value.ndim == 1:
                if np.issubdtype(value.dtype, np.unsignedinteger) or unsigned:
                    value, kind = value.astype(np.uint32), "u"
                elif np.issubdtype(value.dtype, np.integer):
                    value, kind = value.astype(np.int32), "i"
                else:
                    value, kind = value.astype(np.float32), "f"
                self._FUNC_MAP[(value.shape[0], kind)](loc, 1, value)
            else:
                self._FUNC_MAP[(value.shape[0], value.shape[1])](loc, 1, GL.GL_TRUE, value)
        elif isinstance(value, float):
            GL.glUniform1f(loc, value)
        elif isinstance(value, (bool, int)):
            (GL.glUniform1ui if unsigned else GL.glUniform1i)(loc, int(value))
        # other types: pyrender swallows its own ValueError, so they set nothing there either

    ShaderProgram.set_uniform = set_uniform

    orig_lighting = prr.Renderer._bind_lighting
    orig_render = prr.Renderer.render

    def bind_lighting(self, scene, program, node, flags):
        # a program belongs to one renderer, whose frames are numbered
        if getattr(program, "_facesynth_lit", None) != self._facesynth_frame:
            orig_lighting(self, scene, program, node, flags)
            program._facesynth_lit = self._facesynth_frame

    def render(self, scene, flags, seg_node_map=None):
        self._facesynth_frame = getattr(self, "_facesynth_frame", 0) + 1
        return orig_render(self, scene, flags, seg_node_map)

    prr.Renderer._bind_lighting = bind_lighting
    prr.Renderer.render = render
    _APPLIED[0] = True
