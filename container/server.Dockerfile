# The always-on entry point: `python -m predict serve` (uvicorn, one worker) with the embedded model.
# Build from the repository root:  docker build -f container/server.Dockerfile -t twinserve-predict:local .

FROM python:3.12.8-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The pins live in functions/predict/requirements.txt (runtime) and pyproject's `server` extra.
COPY pyproject.toml README.md ./
COPY functions/predict/ functions/predict/
COPY compare/ compare/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install ".[server]" \
    && /opt/venv/bin/python -m predict train --out /opt/model

FROM python:3.12.8-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PREDICT_HOST=0.0.0.0 \
    PREDICT_PORT=8000 \
    PREDICT_MODEL_DIR=/opt/model
RUN groupadd --system --gid 10001 predict \
    && useradd --system --uid 10001 --gid predict --no-create-home --shell /usr/sbin/nologin predict
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=10001:10001 /opt/model /opt/model
# Nothing is written at run time: the pod runs with a read-only root filesystem (/tmp is an emptyDir).
USER 10001:10001
EXPOSE 8000
CMD ["python", "-m", "predict", "serve"]
