# Production image: one static binary on distroless, run as non-root. Build: docker build -t wardops .
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wardops ./cmd/wardops \
    && apt-get update && apt-get install -y --no-install-recommends libcap2-bin && rm -rf /var/lib/apt/lists/* \
    # A file capability makes raw ICMP work for the non-root user: cap_add alone does not make a
    # capability effective for a non-root process (moby/moby#50083). The xattr survives COPY.
    && setcap cap_net_raw+ep /out/wardops \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wardops /usr/local/bin/wardops
COPY --from=build --chown=65532:65532 /out/data /var/lib/wardops
USER 65532:65532
ENV WARDOPS_DATA_DIR=/var/lib/wardops
ENTRYPOINT ["/usr/local/bin/wardops"]
