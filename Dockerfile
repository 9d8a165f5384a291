# Builds proa and puts it in a distroless image, from which other images copy it:
#
#   COPY --from=proa /usr/local/bin/proa /usr/local/bin/proa
#
# The binary needs glibc, libstdc++ and libgcc_s (the official Node build it embeds
# does): distroless `cc`, Debian and Ubuntu images have them; Alpine and `static` do not.
FROM node:22-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json build.mjs ./
COPY src ./src
RUN npm run build

FROM gcr.io/distroless/cc-debian12
COPY --from=build /src/dist/proa-linux-x64 /usr/local/bin/proa
ENTRYPOINT ["/usr/local/bin/proa"]
