# The release image: the static binary of `make release`, FROM scratch,
# with the build machine's CA certificates (for OSS over TLS) and time
# zones. Nothing is pulled and the classic builder suffices, so it builds
# with Debian's and Ubuntu's docker.io. Build it with `make image`
# (docker/image.sh stages the files this refers to).
#
# No ffmpeg: covers are the default image and uploads are judged by their
# first bytes. Use docker/Dockerfile (BuildKit) for an image with ffmpeg.
FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="tiktok-server" \
      org.opencontainers.image.description="Backend of the minimal Douyin short-video app" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY rootfs/ /
COPY --chown=65532:65532 data/ /data/
ENV TIKTOK_SERVER_ADDR=":8080" \
    TIKTOK_SERVER_METRICS_ADDR=":9464" \
    TIKTOK_DATA_DIR="/data" \
    TMPDIR="/data"
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080 9464
# Liveness only; /readyz (dependencies up) is for load balancers.
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/tiktok-server", "healthcheck"]
ENTRYPOINT ["/tiktok-server"]
