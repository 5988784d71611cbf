"""One reusable offscreen pyrender renderer per process (EGL), holding one identity's mesh at a time.

Speed notes (llvmpipe, one core): pyrender's PBR shader and its 4x multisampled framebuffer cost
~140 ms for the ICT head at 144 px; our light-weight shaders (render/shaders, same uniforms) and
no multisampling bring that to ~14 ms. Pose is a node transform, so a neutral image re-uploads
nothing; an expression re-uploads positions and normals of the drawn vertices (glBufferSubData).
"""
from __future__ import annotations

import atexit
import weakref
from pathlib import Path

import numpy as np

from core.errors import FacesynthError
from render import egl, pyrender_patches

SHADER_DIR = Path(__file__).resolve().parent / "shaders"


def _look_along(z: np.ndarray) -> np.ndarray:
    """Rotation whose z axis is the unit vector `z` (pyrender lights shine along -z)."""
    z = z / np.linalg.norm(z)
    up = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.95 else np.array([1.0, 0.0, 0.0])
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], 1)


def _slot_node_class(pyrender):
    class SlotNode(pyrender.Node):
        """A node whose hash is a fixed slot number. pyrender keeps lights and meshes in sets,
        and a set of plain objects iterates in memory-address order; the shader's float sum over
        lights (and the draw order) would then depend on the process's history, changing a few
        pixels by 1-2 levels. Small-int hashes make every such set iterate in slot order."""

        def __init__(self, slot: int, **kw):
            super().__init__(**kw)
            self._slot = slot

        def __hash__(self):
            return self._slot

    return SlotNode


# Renderers still open at exit are closed before the interpreter tears modules down; left to
# pyrender's __del__ then, PyOpenGL prints import errors (seen once triton was loaded first).
_OPEN: "weakref.WeakSet[FaceRenderer]" = weakref.WeakSet()
atexit.register(lambda: [r.close() for r in list(_OPEN)])


class FaceRenderer:
    def __init__(self, model, size: int, msaa: int = 0, mesh=None):
        self.platform = egl.configure()
        egl.check_libraries()
        import pyrender
        from pyrender.shader_program import ShaderProgramCache

        from render.mesh import topology

        pyrender_patches.apply()
        pyrender_patches.set_msaa_samples(msaa)

        self.pr = pyrender
        self._node = _slot_node_class(pyrender)
        self.size = size
        try:
            self.renderer = pyrender.OffscreenRenderer(size, size)
        except Exception as e:  # noqa: BLE001 - any EGL failure means the same thing to the user
            raise FacesynthError(f"could not create an EGL context ({type(e).__name__}: {e}); {egl.INSTALL_HINT}") from None
        self.renderer._renderer._program_cache = ShaderProgramCache(shader_dir=str(SHADER_DIR))
        _OPEN.add(self)
        from OpenGL import GL
        self.gl_renderer = GL.glGetString(GL.GL_RENDERER).decode(errors="replace")  # e.g. llvmpipe
        self.topo = topology(model, mesh)
        self.scene = pyrender.Scene(ambient_light=np.zeros(3), bg_color=np.zeros(4))
        self.camera = pyrender.PerspectiveCamera(yfov=0.3, znear=5.0, zfar=1000.0, aspectRatio=1.0)
        self.camera_node = self.scene.add(self.camera, pose=np.eye(4))
        self.main_node = self.mouth_node = None
        self.light_nodes: list = []
        self.attachment_nodes: dict[str, object] = {}
        self.identity_key = None

    # ---- identity --------------------------------------------------------------------------
    def set_identity(self, key, vertices: np.ndarray, albedo_atlas: np.ndarray, rs_atlas: np.ndarray) -> None:
        """Upload one identity's mesh and textures (once; reused for all its images). `key` is kept
        as `identity_key` (render/pipeline.py passes the identity itself)."""
        from render.mesh import drawn_geometry, interleave
        pr = self.pr
        for node in (self.main_node, self.mouth_node):
            if node is not None:
                self.scene.remove_node(node)
        sampler = pr.Sampler(magFilter=pr.constants.GLTF.LINEAR, minFilter=pr.constants.GLTF.LINEAR_MIPMAP_LINEAR)
        material = pr.MetallicRoughnessMaterial(
            baseColorTexture=pr.Texture(source=albedo_atlas, source_channels="RGB", sampler=sampler),
            metallicRoughnessTexture=pr.Texture(source=rs_atlas, source_channels="RGB", sampler=sampler),
            metallicFactor=0.0, roughnessFactor=1.0)
        v, n = drawn_geometry(self.topo, vertices)
        self._neutral = (v, n)
        self._buffers = {}
        prims = {}
        for name, p in self._parts():
            data = interleave(p, v, n)
            self._buffers[name] = data
            prims[name] = pr.Primitive(positions=data[:, 0:3], normals=data[:, 3:6], texcoord_0=data[:, 6:8],
                                       indices=p.triangles, material=material)
        self.main_node = self._node(16, mesh=pr.Mesh([prims["main"]]), matrix=np.eye(4))
        self.scene.add_node(self.main_node)
        self.mouth_node = None
        if "mouth" in prims:
            self.mouth_node = self._node(17, mesh=pr.Mesh([prims["mouth"]]), matrix=np.eye(4))
            self.scene.add_node(self.mouth_node)
        self._prims = prims
        self._dirty = False
        self.identity_key = key

    # ---- attachments (hair, glasses, headwear, masks) ---------------------------------------
    def set_attachments(self, parts: dict[str, list]) -> None:
        """Replace the worn parts: name -> list of render.attachment.Part (head frame). Each name is
        one node, in a fixed slot by sorted name, hidden unless named in render(visible=...).
        Slots lie below the face's (16): opaque parts are drawn first, so the skin they cover fails
        the depth test instead of being shaded (pyrender draws blended meshes last anyway)."""
        pr = self.pr
        for node in self.attachment_nodes.values():
            self.scene.remove_node(node)
        self.attachment_nodes = {}
        sampler = pr.Sampler(magFilter=pr.constants.GLTF.LINEAR, minFilter=pr.constants.GLTF.LINEAR_MIPMAP_LINEAR)
        textures: dict[int, object] = {}
        for slot, name in enumerate(sorted(parts)):
            prims = []
            for p in parts[name]:
                tex = None
                if p.texture is not None:
                    tex = textures.get(id(p.texture))
                    if tex is None:
                        tex = textures[id(p.texture)] = pr.Texture(source=p.texture, source_channels="RGBA",
                                                                   sampler=sampler)
                # The specular-glossiness material selects the shader variant with the alpha test.
                mat = self._glossy(
                    diffuseFactor=np.asarray(p.color, np.float32), diffuseTexture=tex,
                    specularFactor=np.ones(3, np.float32), glossinessFactor=1.0 - float(p.roughness),
                    emissiveFactor=np.array([p.cutoff, 0.0, 0.0], np.float32),
                    alphaMode="BLEND" if p.blend else "OPAQUE", doubleSided=p.double_sided)
                prims.append(pr.Primitive(positions=p.positions, normals=p.normals,
                                          texcoord_0=p.uv if tex is not None else None,
                                          indices=p.triangles, material=mat))
            if not prims:
                continue
            node = self._node(4 + slot, mesh=pr.Mesh(prims), matrix=np.eye(4))
            node.mesh.is_visible = False
            self.scene.add_node(node)
            self.attachment_nodes[name] = node

    def _glossy(self, **kw):
        """pyrender's SpecularGlossinessMaterial, whose glossinessFactor getter recurses forever
        (pyrender 0.1.45 returns the property from itself); this subclass reads the stored value."""
        if not hasattr(self, "_glossy_cls"):
            base = self.pr.material.SpecularGlossinessMaterial

            class Glossy(base):
                glossinessFactor = property(lambda m: m._glossinessFactor, base.glossinessFactor.fset)

            self._glossy_cls = Glossy
        return self._glossy_cls(**kw)

    def tint(self, name: str, srgb) -> None:
        """Colour (sRGB 0-255) of attachment `name` for the next images (a uniform: no upload)."""
        node = self.attachment_nodes.get(name)
        if node is None:
            return
        c = np.array([*(float(v) / 255.0 for v in srgb), 1.0], np.float32)
        for prim in node.mesh.primitives:
            c[3] = prim.material.diffuseFactor[3]
            prim.material.diffuseFactor = c.copy()

    def _parts(self):
        return [(k, p) for k, p in (("main", self.topo.main), ("mouth", self.topo.mouth)) if p is not None]

    def _upload(self, v: np.ndarray | None) -> None:
        """Positions/normals for this image: `v` (V,3) expression-deformed vertices, None = neutral."""
        from OpenGL import GL

        from render.mesh import drawn_geometry, interleave
        if v is None and not self._dirty:
            return
        if v is None:
            vs, n = self._neutral
        else:
            vs, n = drawn_geometry(self.topo, v)
        for name, p in self._parts():
            data = interleave(p, vs, n, out=self._buffers[name])
            prim = self._prims[name]
            if prim._vaid is None:  # not yet in the GL context: pyrender uploads it on first draw
                prim.positions, prim.normals = data[:, 0:3].copy(), data[:, 3:6].copy()
            else:
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, prim._buffers[0])
                GL.glBufferSubData(GL.GL_ARRAY_BUFFER, 0, data.nbytes, data)
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)
        self._dirty = v is not None

    # ---- one image ------------------------------------------------------------------------
    def render(self, model_matrix: np.ndarray, vertices: np.ndarray | None, mouth: bool,
               yfov: float, camera_position: np.ndarray, target: np.ndarray, ambient: float, lights,
               visible: frozenset = frozenset()) -> np.ndarray:
        """RGBA uint8 (size, size, 4), premultiplied (background is 0). Camera looks along -z.
        `visible`: names of the attachments drawn in this image (posed with the head)."""
        pr = self.pr
        self.renderer._platform.make_current()
        self._upload(vertices)
        self.scene.set_pose(self.main_node, model_matrix)
        if self.mouth_node is not None:
            self.scene.set_pose(self.mouth_node, model_matrix)
            self.mouth_node.mesh.is_visible = bool(mouth)
        for name, node in self.attachment_nodes.items():
            node.mesh.is_visible = name in visible
            if node.mesh.is_visible:
                self.scene.set_pose(node, model_matrix)
        self.camera.yfov = float(yfov)
        cam = np.eye(4)
        cam[:3, 3] = camera_position
        self.scene.set_pose(self.camera_node, cam)
        self.scene.ambient_light = np.full(3, ambient, np.float32)
        for node in self.light_nodes:
            self.scene.remove_node(node)
        self.light_nodes = []
        for slot, L in enumerate(lights):
            d = np.asarray(L.direction, float)
            pose = np.eye(4)
            pose[:3, :3] = _look_along(d)
            color = np.asarray(L.color, np.float32)
            if L.kind == "directional":
                light = pr.DirectionalLight(color=color, intensity=L.intensity)
            else:
                pose[:3, 3] = target + L.distance * d
                # Our shader divides by squared distance: scale so the face gets `intensity`.
                inten = L.intensity * L.distance ** 2
                if L.kind == "point":
                    light = pr.PointLight(color=color, intensity=inten)
                else:
                    cone = np.radians(L.cone_deg)
                    light = pr.SpotLight(color=color, intensity=inten, innerConeAngle=0.6 * cone, outerConeAngle=cone)
            node = self._node(slot, light=light, matrix=pose)
            self.scene.add_node(node)
            self.light_nodes.append(node)
        color, _ = self.renderer.render(self.scene, flags=pr.RenderFlags.RGBA)
        return color

    def close(self) -> None:
        """Free this renderer's GL objects and destroy its context (again: nothing). The EGL
        display stays initialised: every context of the process shares it, and pyrender's own
        delete() would terminate it under the others (render/pipeline.py: fresh_renderer)."""
        plat = self.renderer._platform
        if plat is None:
            return
        from OpenGL.EGL import EGL_NO_CONTEXT, EGL_NO_SURFACE, eglDestroyContext, eglMakeCurrent
        plat.make_current()
        self.renderer._renderer.delete()
        eglMakeCurrent(plat._egl_display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT)
        eglDestroyContext(plat._egl_display, plat._egl_context)
        plat._egl_context = plat._egl_display = None  # so its __del__ does not terminate the display
        self.renderer._renderer = self.renderer._platform = None
