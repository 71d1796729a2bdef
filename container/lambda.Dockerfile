# The on-demand entry point: the Lambda image (AWS base image, its runtime interface client and
# emulator), handler predict.lambda_handler.handler, with the embedded model.
# Build from the repository root:  docker build -f container/lambda.Dockerfile -t twinserve-lambda .
# Try it:  docker run -p 9000:8080 twinserve-lambda, then POST an event to
#          http://localhost:9000/2015-03-31/functions/function/invocations

FROM public.ecr.aws/lambda/python:3.12 AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The same pinned runtime requirements as every other deployment (functions/predict/requirements.txt).
COPY functions/predict/requirements.txt /tmp/requirements.txt
RUN pip install --target /opt/packages -r /tmp/requirements.txt
COPY functions/predict/ /opt/packages/predict/
RUN PYTHONPATH=/opt/packages python -m predict train --out /opt/model

FROM public.ecr.aws/lambda/python:3.12
COPY --from=build /opt/packages/ ${LAMBDA_TASK_ROOT}/
COPY --from=build /opt/model/ /opt/model/
ENV PREDICT_MODEL_DIR=/opt/model
CMD ["predict.lambda_handler.handler"]
