# The published image: barge alone, static, as uid 65532 "nonroot".
#
#   docker build -t barge .
#   docker run -v barge-state:/var/lib/barge -p 24224:24224 -p 24224:24224/udp barge
#
# Its default config (/etc/barge/barge.conf) is examples/quickstart.conf
# made for a container: the forward input binds 0.0.0.0, and the buffer and
# the files written are under /var/lib/barge (the volume). Mount your own
# config over /etc/barge/barge.conf, keeping its buffer under /var/lib/barge.
#
# Two stages: `build` compiles barge and lays out the runtime's whole
# filesystem under /rootfs (and the empty state directory under /state);
# the final stage is FROM scratch and copies those in. cmd/barge's
# TestImage builds this final stage with buildah (no base image can be
# pulled where the tests run): it lays out /rootfs and /state on the host
# as the build stage does, reads `COPY --from=build /X` as `COPY X`, and
# checks that the build stage still has the lines it mirrors.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /rootfs/usr/local/bin/barge ./cmd/barge
# The runtime's files, as distroless/static has them: CA certificates and
# the passwd/group entries of root, nobody and nonroot (65532). Time zones
# are compiled into barge (time/tzdata), so there is no zoneinfo.
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/etc/barge /rootfs/var/lib /rootfs/tmp /state \
 && chmod 1777 /rootfs/tmp \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
      'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
      'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >/rootfs/etc/passwd \
 && printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >/rootfs/etc/group \
 && sed -e 's/^\( *bind\) 127\.0\.0\.1$/\1 0.0.0.0/' -e 's#\./barge-\([a-z]*\)#/var/lib/barge/\1#g' \
      examples/quickstart.conf >/rootfs/etc/barge/barge.conf

# The runtime: nothing but /rootfs, and /var/lib/barge owned by nonroot.
FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /state/ /var/lib/barge/
USER 65532:65532
WORKDIR /var/lib/barge
VOLUME ["/var/lib/barge"]
EXPOSE 24224/tcp 24224/udp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/barge"]
CMD ["run", "-c", "/etc/barge/barge.conf"]
