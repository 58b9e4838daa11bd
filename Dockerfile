# Multi-stage build on a distroless base, running as non-root. presencebridge
# links OpenSSL's libcrypto (cgo) for the RSA unwrap of rich notifications,
# so the base carries glibc and libssl; graphsim stays static.
# The image holds presencebridge (the entrypoint) and graphsim, the Microsoft
# Graph emulator (docker-compose runs it with --entrypoint graphsim).
FROM golang:1.26-bookworm AS build
# OpenSSL's headers for the cgo unwrap; the runtime's libssl3 is Debian 12's too.
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -tags openssl -trimpath -ldflags "-s -w -X main.buildVersion=${VERSION}" \
      -o /out/presencebridge ./cmd/presencebridge
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/graphsim ./cmd/graphsim

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/presencebridge /usr/local/bin/presencebridge
COPY --from=build /out/graphsim /usr/local/bin/graphsim
USER nonroot:nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/presencebridge"]
CMD ["serve"]
