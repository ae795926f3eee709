# Build: docker build -t barge .
# Run as a sidecar: docker run -v /var/lib/barge:/var/lib/barge -p 24224:24224 barge run -c /etc/barge/barge.conf
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/barge ./cmd/barge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/barge /usr/local/bin/barge
COPY examples/quickstart.conf /etc/barge/barge.conf
WORKDIR /home/nonroot
USER nonroot
EXPOSE 24224/tcp 24224/udp
ENTRYPOINT ["/usr/local/bin/barge"]
CMD ["run", "-c", "/etc/barge/barge.conf"]
