# One image for the operator, the CLI and the demo trading services:
#   docker build -t test-coordinator:dev .
#   docker run --rm test-coordinator:dev test-coordinator --help
#   docker run --rm test-coordinator:dev python -m test_coordinator.demo.risk_monitor --help
#   docker run ... test-coordinator:dev test-coordinator operator     (the Kubernetes operator)
# compose.yaml builds it for the demo stack and for its `chaos` runner.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what `pip install .` reads: tests, scenarios and docs are not part of the image.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install . && rm -rf /build
# Out of /build before the next RUN: Docker would make the removed working directory again.
WORKDIR /tmp

RUN groupadd --system --gid 10001 chaos \
    && useradd --system --uid 10001 --gid chaos --no-create-home --shell /usr/sbin/nologin chaos
USER 10001:10001

CMD ["test-coordinator", "--help"]
