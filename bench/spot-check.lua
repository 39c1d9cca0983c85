-- miltertest -D spec=SPEC -D msg=FILE -s bench/spot-check.lua: sends FILE from 192.0.2.1, prints the added Authentication-Results
-- A stage the filter negotiated away (e.g. RCPT) makes miltertest raise an error before sending: pcall skips it.
local conn = mt.connect(spec, 10, 1)
if conn == nil then error("cannot connect to " .. spec) end
local function step(f, ...)
  pcall(f, conn, ...)
end
step(mt.conninfo, "client.bench.example", "192.0.2.1")
step(mt.mailfrom, "<bench@lab.example>")
step(mt.rcptto, "<rcpt@example.net>")
local f = assert(io.open(msg, "rb"))
local text = f:read("*a")
f:close()
local head, body = text:match("^(.-)\r\n\r\n(.*)$")
local name, value = nil, nil
local function flush()
  if name ~= nil then step(mt.header, name, value) end
end
for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
  if line:match("^[ \t]") then
    value = value .. "\r\n" .. line
  else
    flush()
    name, value = line:match("^([^:]+):[ ]?(.*)$")
  end
end
flush()
step(mt.eoh)
step(mt.bodystring, body)
step(mt.eom)
print(mt.getheader(conn, "Authentication-Results", 0))
mt.disconnect(conn)
