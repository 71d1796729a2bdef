# The on-demand entry point: the Lambda image (AWS base image, its runtime interface client and
# emulator), handler predict.lambda_handler.handler, with the embedded model.
# Build from the repository root:  docker build -f container/lambda.Dockerfile -t twinserve-lambda .
# Try it:  docker run -p 9000:8080 twinserve-lambda, then POST an event to
#          http://localhost:9000/2015-03-31/functions/function/invocations
# The model serves in its compiled form, so the image carries neither scikit-learn nor SciPy; an
# artifact without one needs them: --build-arg EXTRAS=sklearn.

FROM public.ecr.aws/lambda/python:3.12 AS build
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY functions/predict/ functions/predict/
COPY compare/ compare/
# The trainer: scikit-learn and the ONNX converter fit the default model and compile it, then stay here.
RUN python -m venv /opt/trainer \
    && /opt/trainer/bin/pip install ".[package]" \
    && /opt/trainer/bin/python -m predict train --out /opt/model
# What ships: the same pinned runtime requirements as every other deployment, and the package's sources
# (DL3013: an extra's pins are in pyproject.toml, which hadolint cannot see).
# hadolint ignore=DL3013
RUN pip install --target /opt/packages -r functions/predict/requirements.txt \
    && if [ -n "$EXTRAS" ]; then pip install --target /opt/packages ".[$EXTRAS]"; fi \
    && cp -r functions/predict /opt/packages/predict

FROM public.ecr.aws/lambda/python:3.12
# checkov:skip=CKV_DOCKER_2: Lambda runs no Docker HEALTHCHECK and the runtime interface client serves no health endpoint; Lambda supervises the runtime itself
# checkov:skip=CKV_DOCKER_3: Lambda runs the function as its own least-privileged Linux user whatever USER says (AWS Lambda container image requirements)
COPY --from=build /opt/packages/ ${LAMBDA_TASK_ROOT}/
COPY --from=build /opt/model/ /opt/model/
ENV PREDICT_MODEL_DIR=/opt/model
CMD ["predict.lambda_handler.handler"]
