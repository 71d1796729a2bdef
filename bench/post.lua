-- POST /predict with one Iris row, for `wrk -s bench/post.lua http://127.0.0.1:PORT`.
--   BENCH_BODY      the JSON body (default: twinserve's single-row request)
--   BENCH_REQUESTS  stop after this many responses (with -t1), printing "bench: N responses, M failed";
--                   unset: run for wrk's -d and let wrk print its summary
wrk.method = "POST"
wrk.path = "/predict"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_BODY") or '{"features": [5.1, 3.5, 1.4, 0.2]}'

local limit = tonumber(os.getenv("BENCH_REQUESTS") or "")
local seen, failed = 0, 0

function init(args)
  -- Without a limit, drop response(): wrk then skips handing each response to Lua.
  if not limit then
    response = nil
  end
end

function response(status, headers, body)
  seen = seen + 1
  if status > 399 then
    failed = failed + 1
  end
  if seen >= limit then
    -- wrk would sleep out the rest of -d before exiting (thread:stop() does not end the run): leave now.
    io.write(string.format("bench: %d responses, %d failed\n", seen, failed))
    io.flush()
    os.exit(0)
  end
end
