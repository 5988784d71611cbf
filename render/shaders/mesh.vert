#version 330 core
// facesynth's light-weight replacement for pyrender's mesh.vert (same attribute layout).
// The model matrix is rigid (rotation + translation), so mat3(M) transforms normals and the
// per-vertex 4x4 inverse of pyrender's shader -- costly on llvmpipe -- is not needed.
layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
#ifdef TEXCOORD_0_LOC
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
#endif

uniform mat4 M;
uniform mat4 V;
uniform mat4 P;

out vec3 frag_position;
out vec3 frag_normal;
out vec2 uv_0;

void main()
{
    vec4 world = M * vec4(position, 1.0);
    gl_Position = P * V * world;
    frag_position = world.xyz;
#ifdef NORMAL_LOC
    frag_normal = mat3(M) * normal;
#else
    frag_normal = vec3(0.0, 0.0, 1.0);
#endif
#ifdef TEXCOORD_0_LOC
    uv_0 = texcoord_0;
#else
    uv_0 = vec2(0.0);
#endif
}
