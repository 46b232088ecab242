# flashcl serve in a container. The image holds a JRE, the OpenCL ICD loader (with the libOpenCL.so
# name JOCL opens) and flashcl.jar; the
# GPU's OpenCL driver comes from the host through its container runtime:
#   NVIDIA: the NVIDIA Container Toolkit mounts libnvidia-opencl.so.1 (driver capability "compute");
#           the image registers it in /etc/OpenCL/vendors/nvidia.icd.
#   AMD, Intel: build with the vendor's OpenCL packages, e.g. --build-arg OPENCL_PACKAGES=mesa-opencl-icd
#           (Mesa's rusticl; run with RUSTICL_ENABLE=radeonsi or iris) or intel-opencl-icd, and pass
#           /dev/dri (and /dev/kfd for ROCm) to the container.
#   CPU only: --build-arg OPENCL_PACKAGES=pocl-opencl-icd.
#
#   docker build -t flashcl .
#   docker run --gpus all -p 8080:8080 -v ~/models/phi-2:/models/phi-2:ro -e FLASHCL_MODEL=/models/phi-2 flashcl
#
# Every serve option can be set as FLASHCL_<OPTION> (FLASHCL_MODEL, FLASHCL_DEVICE, FLASHCL_PORT,
# FLASHCL_MAX_BATCH, FLASHCL_API_KEY, ...); with no FLASHCL_MODEL it serves the embedded model.

FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml LICENSE NOTICE ./
RUN mvn -q -B dependency:go-offline
COPY kernels kernels
COPY testdata/embedded testdata/embedded
COPY src/main src/main
RUN mvn -q -B package -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true

FROM eclipse-temurin:17-jre-noble
ARG OPENCL_PACKAGES=""
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ocl-icd-libopencl1 ocl-icd-opencl-dev curl ${OPENCL_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/OpenCL/vendors \
 && echo libnvidia-opencl.so.1 > /etc/OpenCL/vendors/nvidia.icd \
 && useradd --system --uid 10001 --home-dir /var/lib/flashcl --create-home flashcl
COPY --from=build /src/target/flashcl.jar /opt/flashcl/flashcl.jar
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    FLASHCL_HOST=0.0.0.0 \
    FLASHCL_PORT=8080 \
    JAVA_TOOL_OPTIONS="-XX:+ExitOnOutOfMemoryError"
USER flashcl
WORKDIR /var/lib/flashcl
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=300s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${FLASHCL_PORT}/health" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["java", "-jar", "/opt/flashcl/flashcl.jar"]
CMD ["serve"]
