# Production image: one static binary on a small base. Build: docker build -t wardops .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(git describe --always 2>/dev/null || echo docker)" -o /out/wardops ./cmd/wardops

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/wardops wardops && mkdir -p /var/lib/wardops && chown wardops /var/lib/wardops
COPY --from=build /out/wardops /usr/local/bin/wardops
USER wardops
ENV WARDOPS_DATA_DIR=/var/lib/wardops
ENTRYPOINT ["/usr/local/bin/wardops"]
