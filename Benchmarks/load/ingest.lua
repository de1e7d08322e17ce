-- wrk script: each request POSTs BATCH new NDJSON records (unique request ids per thread and request).
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local tenant = os.getenv("TENANT")
local batch = tonumber(os.getenv("BATCH") or "100")
local counter = 0
wrk.method = "POST"
wrk.path = "/api/v1/analytics/records"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRITER_KEY")
wrk.headers["Content-Type"] = "application/x-ndjson"

request = function()
  counter = counter + 1
  local lines = {}
  for i = 1, batch do
    lines[i] = string.format(
      '{"tenant_id":"%s","request_id":"load-%d-%d-%d","user_id":"load-user-%d","feature_tag":"load.test","model":"gpt-4o","input_tokens":1000,"output_tokens":200,"cost_cents":"0.4500000","created_at":"2025-05-31T12:%02d:00Z"}',
      tenant, id, counter, i, i % 50, i % 60)
  end
  return wrk.format(nil, nil, nil, table.concat(lines, "\n"))
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors %d\n", errors))
end
