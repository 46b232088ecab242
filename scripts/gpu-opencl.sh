# Sourced by the scripts/gpu-*.sh runs: JOCL opens libOpenCL.so; give it one where only the
# versioned loader (or NVIDIA's vendor library) exists on the GPU machine.
if ! ldconfig -p | grep -q 'libOpenCL\.so '; then
  lib=$(ldconfig -p | awk '/libOpenCL\.so\.1 /{print $NF; exit}')
  [ -n "$lib" ] || lib=$(ldconfig -p | awk '/libnvidia-opencl\.so\.1 /{print $NF; exit}')
  mkdir -p /tmp/flashcl-ocl && ln -sf "$lib" /tmp/flashcl-ocl/libOpenCL.so
  export LD_LIBRARY_PATH=/tmp/flashcl-ocl:${LD_LIBRARY_PATH:-}
fi
