"""One Lambda invocation through the app: POST /predict without Mangum's event-loop round trip.

Per invocation Mangum finds the event's handler (HTTP API, REST API, ALB), builds the ASGI scope,
runs the app as a new task on the event loop with a queue for its messages (its HTTPCycle), and
turns the answer into the Lambda response. A POST /predict goes to the fast path (fast_predict.py),
which on Lambda never waits: receive and send return at once and the model runs inline. So here
its coroutine is stepped once, to its end, inside Mangum's own HTTPCycle (the same receive, send,
error handling and log line) and the response is made by Mangum's own handler: the same bytes,
without the task, the loop's turn and its selector call. Should it wait after all, the event
loop finishes it. Every other request goes the way Mangum's __call__ takes it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from mangum import Mangum
from mangum.protocols.http import HTTPCycle
from mangum.types import Response
from starlette.types import Scope


class Dispatcher:
    def __init__(self, adapter: Mangum, loop: asyncio.AbstractEventLoop, direct: Callable[[Scope], bool]) -> None:
        if adapter.lifespan != "off":  # Mangum would run the lifespan around each invocation; this does not
            raise ValueError("the dispatcher needs Mangum with lifespan='off'")
        self.adapter = adapter
        self.loop = loop
        self.direct = direct

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        handler = self.adapter.infer(event, context)
        scope = handler.scope
        cycle = HTTPCycle(scope, handler.body)
        if self.direct(scope):
            self._run_now(cycle.run(self.adapter.app))
            response: Response = {"status": cycle.status, "headers": cycle.headers, "body": cycle.body}
        else:
            response = cycle(self.adapter.app)  # Mangum's way: a task on the current event loop
        result: dict[str, Any] = handler(response)
        return result

    def _run_now(self, run: Coroutine[Any, Any, None]) -> None:
        """Step `run` to its end here, in its own context as a task would have; on the loop if it waits."""
        context = contextvars.copy_context()
        asyncio._set_running_loop(self.loop)  # what the app asks for (get_running_loop) is the loop it would run on
        try:
            awaited = context.run(run.send, None)
        except StopIteration:
            return
        finally:
            asyncio._set_running_loop(None)
        self.loop.run_until_complete(self.loop.create_task(_Resumed(run, awaited).wait(), context=context))


class _Resumed:
    """A coroutine stopped at its first wait, continued by a task: the task sees what it waits on
    as if waited on here, then steps it on, as `await` would have."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], awaited: Any) -> None:
        self.coroutine = coroutine
        self.awaited = awaited

    async def wait(self) -> None:
        await self

    def __await__(self) -> Generator[Any, None, None]:
        awaited = self.awaited
        while True:
            thrown: BaseException | None = None
            try:
                yield awaited
            except BaseException as exc:  # thrown in by the task (cancellation): the coroutine's to handle
                thrown = exc
            try:
                awaited = self.coroutine.send(None) if thrown is None else self.coroutine.throw(thrown)
            except StopIteration:
                return
