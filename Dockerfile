# The image to copy proa from. Its final stage is `scratch` holding:
#
#   /opt/proa/              the portable folder: runs in every image (scratch, distroless
#                           static, Alpine, distroless cc, Debian, Ubuntu, UBI); it works
#                           only at this path
#   /usr/local/bin/proa     the single file, for glibc images (distroless cc, Debian, Ubuntu)
#
#   COPY --from=proa /opt/proa /opt/proa
#
# Built on the build platform for every target: `docker buildx build --platform
# linux/amd64,linux/arm64 --build-arg COMMIT=$(git rev-parse --short HEAD) .`
# (the commit is an argument because .git is not in the build context).
FROM --platform=$BUILDPLATFORM node:22-bookworm AS build
ARG COMMIT=unknown
RUN apt-get update && apt-get install -y --no-install-recommends patchelf binutils \
      qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json build.mjs ./
COPY src ./src
RUN PROA_COMMIT=$COMMIT npm run dist
ARG TARGETARCH
# Docker names the architectures amd64 and arm64; Node's builds are x64 and arm64.
RUN arch=$([ "$TARGETARCH" = amd64 ] && echo x64 || echo "$TARGETARCH") \
    && mkdir -p /out/opt /out/usr/local/bin \
    && cp -a "dist/portable-$arch/opt/proa" /out/opt/proa \
    && cp "dist/proa-linux-$arch" /out/usr/local/bin/proa

FROM scratch
COPY --from=build /out/ /
ENTRYPOINT ["/opt/proa/proa"]
