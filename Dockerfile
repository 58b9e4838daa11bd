# Multi-stage build: a static binary on a distroless base, running as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.buildVersion=${VERSION}" \
      -o /out/presencebridge ./cmd/presencebridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/presencebridge /usr/local/bin/presencebridge
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/presencebridge"]
CMD ["serve"]
