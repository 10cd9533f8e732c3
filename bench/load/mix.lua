-- wrk script: the load test's requests (bench/load/generator.py names the same mix in Python).
--
--   wrk -t N -c N -d 8s -s bench/load/mix.lua http://127.0.0.1:PORT -- DATA SIDE MIX OUT SEED SECONDS NONCE [EVERY]
--
-- DATA: a Lua file returning the fixture (bench/load/wrk.py writes it); SIDE: kassa | bare;
-- MIX: "kind=weight,kind=weight"; OUT: a file prefix, each thread appends OUT.<n>.tsv with one
-- line per answer: kind, status, milliseconds, ok, tenant id, sale id, replayed sale id, note;
-- SECONDS: how long to send. wrk's -d is a little longer: after SECONDS no request is sent
-- (delay() holds each connection), so none is cut off in flight (a sale committed but never
-- answered would fail the ledger check); NONCE: this run's own, in every Idempotency-Key;
-- EVERY: milliseconds between one thread's requests (a fixed rate, started at a random point of
-- the first interval), or 0 (the default) for a closed loop. At a fixed rate an answer's latency
-- counts from when its request was due, not when it was sent: a request held back by a slow
-- answer before it is late by that much (no coordinated omission).
-- One connection per thread (-t = -c), so each thread's request and response alternate and the
-- latency of each answer is measured here (CLOCK_MONOTONIC through LuaJIT's FFI).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } kassa_timespec;
int clock_gettime(int clk_id, kassa_timespec *tp);
]])
local ts = ffi.new("kassa_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("number", counter)
end

local data, side, kinds, weights, total, out, pending, replay, deadline, nonce, every, due

-- Idempotency keys unique to this run (the random numbers repeat from run to run: same seed).
local keys = 0
local function idempotency_key()
  keys = keys + 1
  return string.format("%s-%d-%d", nonce, number, keys)
end

function init(args)
  data = dofile(args[1])
  side = args[2]
  kinds, weights, total = {}, {}, 0
  for kind, weight in string.gmatch(args[3], "([%w_]+)=(%d+)") do
    kinds[#kinds + 1] = kind
    total = total + tonumber(weight)
    weights[#weights + 1] = total
  end
  math.randomseed(tonumber(args[5]) * 1000 + number)
  out = io.open(args[4] .. "." .. number .. ".tsv", "w")
  out:setvbuf("line")
  deadline = now_ms() + tonumber(args[6]) * 1000
  nonce = args[7]
  every = tonumber(args[8] or "0")
  due = now_ms()
  if every > 0 then due = due + math.random() * every end
end

local function pick(list) return list[math.random(1, #list)] end

local function choose()
  local r = math.random(1, total)
  for i, limit in ipairs(weights) do
    if r <= limit then return kinds[i] end
  end
end

local function sale_body(tenant, store, quantity_any)
  local chosen, seen = {}, {}
  while #chosen < 3 do
    local p = pick(tenant.stocked)
    if not seen[p] then seen[p] = true; chosen[#chosen + 1] = p end
  end
  local lines = {}
  for i, p in ipairs(chosen) do
    local q = quantity_any and math.random(1, 3) or 1
    lines[i] = string.format('{"product":"%s","quantity":%d}', p, q)
  end
  local body = string.format('{"store":"%s","lines":[%s]', store.id, table.concat(lines, ","))
  if side == "kassa" then
    body = body .. ',"payments":[{"method":"cash","amount":"1000.00"}]'
  end
  return body .. "}"
end

local function kassa_request(kind, tenant)
  local headers = { Host = tenant.host }
  local method, path, body, expected = "GET", nil, nil, 200
  if kind == "sale" then
    local store = pick(tenant.stores)
    headers["Authorization"] = "Bearer " .. store.token
    headers["Idempotency-Key"] = idempotency_key()
    headers["Content-Type"] = "application/json"
    method, path, body, expected = "POST", "/api/v1/sales/", sale_body(tenant, store, true), 201
  elseif kind == "access_log" then
    headers["Authorization"] = "Bearer " .. tenant.owner
    local day = os.date("!%Y-%m-%d")
    path = string.format("/api/v1/audit/access/?user=%s&since=%sT00:00:00Z&until=%sT23:59:59Z",
      pick(tenant.stores).cashier, day, day)
  else
    headers["Authorization"] = "Bearer " .. tenant.integrator
    if kind == "product_list" then
      path = string.format("/api/v1/products/?page=%d", math.random(1, math.floor(tenant.products / 50)))
    elseif kind == "product_detail" then
      path = string.format("/api/v1/products/%s/", pick(tenant.stocked))
    elseif kind == "stock" then
      local store = pick(tenant.stores).id
      if math.random() < 0.5 then
        path = string.format("/api/v1/stock/?store=%s&product=%s", store, pick(tenant.stocked))
      else
        path = string.format("/api/v1/stock/?store=%s&page=%d", store, math.random(1, 2))
      end
    elseif kind == "product_update" then
      headers["Content-Type"] = "application/json"
      method, path = "PATCH", string.format("/api/v1/products/%s/", pick(tenant.stocked))
      body = string.format('{"price":"%.2f"}', math.random(100, 999) / 100)
    end
  end
  return method, path, headers, body, expected
end

local function bare_request(kind, tenant)
  local headers = { Host = "127.0.0.1", ["X-Bench-Tenant"] = tenant.id }
  if kind == "product_list" then
    return "GET", string.format("/bare/products/?page=%d", math.random(1, math.floor(tenant.products / 50))),
      headers, nil, 200
  elseif kind == "product_detail" then
    return "GET", string.format("/bare/products/%s/", pick(tenant.stocked)), headers, nil, 200
  elseif kind == "sale" then
    headers["Content-Type"] = "application/json"
    return "POST", "/bare/sales/", headers, sale_body(tenant, pick(tenant.stores), false), 201
  end
end

function delay()
  local t = now_ms()
  if t >= deadline or (every > 0 and due >= deadline) then return 3600000 end
  if every > 0 and due > t then return math.floor(due - t) end
  return 0
end

function request()
  if replay ~= nil then
    -- The register did not see the answer and sends the same sale again.
    pending, replay = replay, nil
  else
    local kind = choose()
    local tenant = pick(data)
    local method, path, headers, body, expected
    if side == "kassa" then
      method, path, headers, body, expected = kassa_request(kind, tenant)
    else
      method, path, headers, body, expected = bare_request(kind, tenant)
    end
    pending = { kind = kind, tenant = tenant, expected = expected,
                raw = wrk.format(method, path, headers, body) }
  end
  local t = now_ms()
  if every > 0 then
    pending.started = math.min(t, due)
    due = due + every
  else
    pending.started = t
  end
  return pending.raw
end

local function clean(text)
  return (string.sub(text or "", 1, 160):gsub("[%c\t]", " "))
end

function response(status, headers, body)
  local ms = now_ms() - pending.started
  local p = pending
  local ok = status == p.expected
  local sale, replayed, note = "", "", ""
  if p.kind == "sale" or p.kind == "sale_replay" then
    if ok then sale = string.match(body, '^{"id":"([0-9a-f-]+)"') or "" end
    if p.kind == "sale_replay" then
      replayed, sale = sale, p.first
      ok = ok and replayed == p.first and headers["Idempotent-Replayed"] == "true"
    elseif ok and side == "kassa" and math.random() < 0.05 then
      replay = { kind = "sale_replay", tenant = p.tenant, expected = 201, raw = p.raw, first = sale }
    end
  end
  if not ok then note = clean(body) end
  out:write(p.kind, "\t", status, "\t", string.format("%.3f", ms), "\t", ok and 1 or 0, "\t",
    p.tenant.id, "\t", sale, "\t", replayed, "\t", note, "\n")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-errors connect=%d read=%d write=%d timeout=%d status=%d requests=%d\n",
    e.connect, e.read, e.write, e.timeout, e.status, summary.requests))
end
