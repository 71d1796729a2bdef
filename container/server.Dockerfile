# The always-on entry point: `python -m predict serve` (uvicorn, one worker) with the embedded model.
# Build from the repository root:  docker build -f container/server.Dockerfile -t twinserve-predict:local .
# The model serves in its compiled form, so the image carries neither scikit-learn nor SciPy; an
# artifact without one needs them: --build-arg EXTRAS=server,sklearn.

FROM python:3.12.8-slim-bookworm AS build
ARG EXTRAS=server
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The pins live in functions/predict/requirements.txt (runtime) and pyproject's extras.
COPY pyproject.toml README.md ./
COPY functions/predict/ functions/predict/
COPY compare/ compare/
# The trainer fits and compiles the default model and stays in this stage.
RUN python -m venv /opt/trainer \
    && /opt/trainer/bin/pip install ".[package]" \
    && /opt/trainer/bin/python -m predict train --out /opt/model
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install ".[$EXTRAS]"

FROM python:3.12.8-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PREDICT_HOST=0.0.0.0 \
    PREDICT_MODEL_DIR=/opt/model
# The last RUN: after the user, take out what the server never needs and an intruder would use:
# the package managers and the shells (the preStop hook runs `sleep`, not a shell).
RUN groupadd --system --gid 10001 predict \
    && useradd --system --uid 10001 --gid predict --no-create-home --shell /usr/sbin/nologin predict \
    && rm -rf /var/lib/apt /var/lib/dpkg /var/cache/debconf /usr/bin/apt* /usr/bin/dpkg* /usr/lib/apt \
    && rm -f /usr/bin/bash /usr/bin/dash /usr/bin/rbash /usr/bin/sh /bin/bash /bin/dash /bin/sh
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=10001:10001 /opt/model /opt/model
# The port: PREDICT_PORT, else PORT (Knative, Cloud Run), else 8000; the image sets neither.
# Nothing is written at run time: the pod runs with a read-only root filesystem (/tmp is an emptyDir).
USER 10001:10001
EXPOSE 8000
# For `docker run` and Compose; Kubernetes ignores it and uses the Deployment's probes (same /health).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % (os.environ.get('PREDICT_PORT') or os.environ.get('PORT') or '8000'), timeout=3)"]
CMD ["python", "-m", "predict", "serve"]
