# The service in a container: gunicorn (gevent workers) via `cds-service serve`, as a non-root
# user, the schema migrated by the entrypoint before it serves (deploy/entrypoint.sh).
# Not built on the machine that wrote it (no container daemon or base image there); see
# docs/deploying.md, "Container and Kubernetes".
#
#   docker build -t lsb-cds-service .
#   docker run -p 8080:8080 -e CDS_PUBLIC_URL=https://cds.example.org \
#     -e CDS_DATABASE_URL_FILE=/run/secrets/db-url -e CDS_PATIENT_KEY_SECRET_FILE=... \
#     -e CDS_TRUSTED_CLIENTS=/etc/cds/trusted-clients.yaml ... lsb-cds-service
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /opt/cds
COPY . /opt/cds

# The Makefile's runtime install (the `make run` recipe; CI's `make test` adds the test extra).
RUN python3 -m venv /opt/cds/.venv \
    && /opt/cds/.venv/bin/python -m pip install --quiet --upgrade pip \
    && /opt/cds/.venv/bin/python -m pip install --quiet -e . \
    && useradd --system --no-create-home --shell /usr/sbin/nologin cds

ENV PATH=/opt/cds/.venv/bin:$PATH
USER cds
EXPOSE 8080 9464
ENTRYPOINT ["/opt/cds/deploy/entrypoint.sh"]
CMD ["--port", "8080", "--workers", "2", "--metrics-host", "0.0.0.0"]
