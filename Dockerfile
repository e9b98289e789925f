# The auditor's container image: a slim Debian base with Python 3.11, Pango and the DejaVu fonts
# for the PDF report, a non-root user, and the project's wheel installed from the lock file with
# hashes. Every install step is in deploy/container/install.sh (the test suite runs the same
# script into a fresh virtual environment: tests/test_container_install.py); this file only
# copies the sources it needs and calls it. docs/deploy.md: building, running, the recipes.
#
#   docker build -t private-network-auditor .
#   docker run --rm -v "$PWD:/audit" -e AWS_PROFILE -v "$HOME/.aws:/aws:ro" -e AWS_CONFIG_FILE=/aws/config -e AWS_SHARED_CREDENTIALS_FILE=/aws/credentials \
#     private-network-auditor scan -c audit.yaml --out out/
#
# For a reproducible base, pin the image by digest (python:3.11-slim-bookworm@sha256:...).
FROM python:3.11-slim-bookworm

# What the wheel is built from (.dockerignore keeps everything else out of the context).
COPY pyproject.toml README.md /opt/auditor-src/
COPY requirements/ /opt/auditor-src/requirements/
COPY auditor/ /opt/auditor-src/auditor/
COPY rules/ /opt/auditor-src/rules/
COPY reports/templates/ /opt/auditor-src/reports/templates/
COPY sample_configs/ /opt/auditor-src/sample_configs/
COPY deploy/container/ /opt/auditor-src/deploy/container/

# No uv cache kept in the image; the sources are removed once the wheel is installed.
RUN UV_NO_CACHE=1 sh /opt/auditor-src/deploy/container/install.sh \
        --system-packages --user auditor:10001 --python /usr/local/bin/python3.11 \
        /opt/auditor-src /opt/auditor \
    && rm -rf /opt/auditor-src

ENV PATH=/opt/auditor/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The numeric id, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /audit
# /audit (made by install.sh, owned by the user) is where runs write. Declared a volume so that
# ECS Fargate gives a task volume mounted there the image's ownership (a bind mount is otherwise
# root's, mode 0755) and a read-only root filesystem still has a writable work folder.
VOLUME ["/audit"]
ENTRYPOINT ["auditor"]
CMD ["--help"]
