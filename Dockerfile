# Lvyue's server image: the `lvyue` binary alone on a distroless base, as a non-root user
# (docs/operations.md, "Running in containers").
#
#   docker build -t lvyue .
#   docker run -p 8080:8080 -v lvyue-data:/var/lib/lvyue lvyue serve --demo
#
# The build stage compiles with the same toolchain as CI; the runtime stage has glibc and the
# binary, no shell and no package manager. TLS roots are compiled in (rustls with webpki roots).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p lvyue-api \
 && install -D -m 0755 target/release/lvyue /out/lvyue \
 && install -d -o 65532 -g 65532 -m 0700 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/lvyue /usr/local/bin/lvyue
# The data directory (keys, the newest published checkpoint, the SQLite default, the search
# index): one volume per node, owned by the image's non-root user (uid 65532).
COPY --from=build --chown=65532:65532 /out/data /var/lib/lvyue
USER 65532:65532
ENV LVYUE_DATA_DIR=/var/lib/lvyue \
    LVYUE_BIND=0.0.0.0:8080 \
    LVYUE_LOG_FORMAT=json
VOLUME ["/var/lib/lvyue"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/lvyue"]
CMD ["serve"]
