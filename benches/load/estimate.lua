-- wrk script: every request POSTs one small job to /v1/estimate
-- (normal d=1, score function, N=1000, fixed seed) and counts what is not 200.
--   wrk -t2 -c32 -d20s --latency -s benches/load/estimate.lua http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/v1/estimate"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"distribution":{"family":"normal","loc":[0.5],"scale":[1.2]},'
    .. '"objective":"(x-3)^2",'
    .. '"estimator":{"kind":"score_function","baseline":"none"},'
    .. '"samples":1000,"seed":1}'

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    not_ok = 0
end

function response(status, headers, body)
    if status ~= 200 then
        not_ok = not_ok + 1
        if not_ok <= 3 then
            io.stderr:write("status " .. status .. ": " .. body .. "\n")
        end
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, t in ipairs(threads) do
        total = total + t:get("not_ok")
    end
    io.write(string.format("not 200: %d of %d responses\n", total, summary.requests))
end
