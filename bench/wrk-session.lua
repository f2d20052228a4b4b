-- wrk script: send the session cookie from $SESSION_COOKIE and, like a browser, replace it
-- with the one each response sets, so the cookie changes on every request.
local cookie = os.getenv("SESSION_COOKIE")

request = function()
  return wrk.format("GET", nil, { ["Cookie"] = "session=" .. cookie })
end

response = function(status, headers, body)
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  if set then
    local value = set:match("^session=([^;]+)")
    if value then cookie = value end
  end
end
