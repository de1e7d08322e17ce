-- wrk script: GETs with the reader key; counts non-2xx answers.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("READER_KEY")

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx-or-errors %d\n", errors))
end
