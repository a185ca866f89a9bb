# Guarita in a container, to run beside Frigate (deploy/compose.yaml; docs/install.md).
# Build from the repository root:  docker build -t guarita:0.1.0 .
FROM python:3.11-slim

# ffmpeg/ffprobe check DVR segments and burn privacy masks into evidence clips.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# A system user without a login shell; the data folder is the only place it writes.
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/guarita --no-create-home \
        --shell /usr/sbin/nologin guarita \
    && mkdir -p /var/lib/guarita /etc/guarita \
    && chown guarita:guarita /var/lib/guarita \
    && chmod 0750 /var/lib/guarita

WORKDIR /opt/guarita
COPY pyproject.toml README.md ./
COPY guarita ./guarita
COPY adapters ./adapters
COPY plugins ./plugins
COPY consent ./consent
COPY retention ./retention
RUN pip install --no-cache-dir --disable-pip-version-check . \
    && rm -rf /opt/guarita/build

ENV GUARITA_CONFIG=/etc/guarita/guarita.yaml \
    GUARITA_HEALTHZ_URL=http://127.0.0.1:8765/healthz \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/guarita"]
EXPOSE 8765
USER guarita

# 200 from /healthz while Guarita runs (status ok or degraded); 503 (failing: full disk or outbox) or no
# answer marks the container unhealthy.
# Set GUARITA_HEALTHZ_URL when web.port in the config is not 8765.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['GUARITA_HEALTHZ_URL'], timeout=4)"]

ENTRYPOINT ["guarita"]
CMD ["run"]
