-- wrk script for the agent's authenticated routes: agent tokens are good for
-- one request (issue 21, M5), so each request carries its own, read from the
-- file $ZLH_TOKENS (one per line, `zlhctl token --count N`). Thread i of
-- $ZLH_THREADS takes lines i, i+n, i+2n... A thread that runs out sends
-- "exhausted", which the agent answers 401: wrk counts it as non-2xx, so a
-- run that was short of tokens shows in the report.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local n = tonumber(os.getenv("ZLH_THREADS"))
  toks = {}
  local i = 0
  for line in io.lines(os.getenv("ZLH_TOKENS")) do
    if i % n == id then toks[#toks + 1] = line end
    i = i + 1
  end
  k = 0
end

function request()
  k = k + 1
  return wrk.format("GET", "/status", {["Authorization"] = "Bearer " .. (toks[k] or "exhausted")})
end
