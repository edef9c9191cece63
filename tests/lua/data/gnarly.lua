-- Valid Lua that a naive text scanner trips on: revive check must pass it (test_check).
--[==[ a long comment with ]] inside ]==]
local M = {}
function M.helper(a, ...)
  local n <const> = select("#", ...)
  return a + n
end
function M:method(x) return self, x end
local t = { 0x1F, 1e5, 2.5e-3, ["key"] = "v\"q", [[long ]] }
local s = "a\\" .. 'b\'' .. [=[c]=]
return playbook {
  name = "gnarly",
  summary = "valid Lua that a naive scanner trips on",
  run = function(p)
    for i = 1, 3 do
      if i == 2 then goto continue end
      log("%d %s", M.helper(i, 1, 2), s)
      ::continue::
    end
    for k, v in pairs(t) do log("%s=%s", tostring(k), tostring(v)) end
    local ok, e = pcall(function() error(errors.new("timeout", "x")) end)
    local obj = setmetatable({}, { __index = function(_, key) return key end })
    local x = obj.anything .. ("z"):rep(2) .. #t .. (ok and "" or e.name)
    local y = x ~= nil and not false or nil
    while y do y = nil end
    repeat local z = 1 until z == 1
    return outcome.fixed(x)
  end,
}
