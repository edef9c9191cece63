--[[
check.lua — the static half of `revive check` (the other half loads the playbook and
validates its header through playbook{}). Trusted, compiled in.

It reads the source with comments and strings blanked out (newlines kept, so line
numbers hold) and reports, without running anything:
  - names used that are neither declared anywhere in the file nor part of the API;
  - module.member uses where the member does not exist (device.restor_firmware);
  - assignments to globals and global function definitions (the sandbox forbids them);
  - destructive calls the header's policy does not allow (policy false: header unknown).
The scope analysis is deliberately rough (a name declared anywhere counts everywhere), so
it may miss a mistake but does not report a correct playbook.

check(source, env, policy) -> { { line = n, message = "..." }, ... }
]]
local source, env, policy = ...
local findings = {}
local fmt, sub, find, match, gmatch, gsub = string.format, string.sub, string.find, string.match,
      string.gmatch, string.gsub

local starts = { 1 }
for p in gmatch(source, "()\n") do starts[#starts + 1] = p + 1 end
local function line_of(pos)
  local lo, hi = 1, #starts
  while lo < hi do
    local mid = (lo + hi + 1) // 2
    if starts[mid] <= pos then lo = mid else hi = mid - 1 end
  end
  return lo
end

local function add(pos, message, ...)
  findings[#findings + 1] = { line = line_of(pos), message = fmt(message, ...) }
end

-- 1. Blank out comments and strings (same length, newlines kept).
local out, i, n = {}, 1, #source
local function blank(s) return (gsub(s, "[^\n]", " ")) end
while i <= n do
  local c = sub(source, i, i)
  if sub(source, i, i + 1) == "--" then
    local eqs = match(source, "^%[(=*)%[", i + 2)
    local j
    if eqs then
      local _, e = find(source, "]" .. eqs .. "]", i + 2, true)
      j = e or n
    else
      local e = find(source, "\n", i, true)
      j = (e or n + 1) - 1
    end
    out[#out + 1] = blank(sub(source, i, j))
    i = j + 1
  elseif c == '"' or c == "'" then
    local j = i + 1
    while j <= n do
      local d = sub(source, j, j)
      if d == "\\" then j = j + 2
      elseif d == c or d == "\n" then break
      else j = j + 1 end
    end
    out[#out + 1] = c .. blank(sub(source, i + 1, j - 1)) .. c
    i = j + 1
  elseif c == "[" and match(source, "^%[=*%[", i) then
    local eqs = match(source, "^%[(=*)%[", i)
    local _, e = find(source, "]" .. eqs .. "]", i, true)
    e = e or n
    out[#out + 1] = '"' .. blank(sub(source, i + 1, e - 1)) .. '"'
    i = e + 1
  else
    local j = find(source, "[%-\"'%[]", i + 1) or n + 1
    out[#out + 1] = sub(source, i, j - 1)
    i = j
  end
end
local code = table.concat(out)

-- 2. Names the file declares (anywhere).
local declared = {}
local function declare(list)
  for nm in gmatch(list, "[%a_][%w_]*") do declared[nm] = true end
end
for list in gmatch(code, "local%s+([%a_][%w_%s,<>]*)") do declare(list) end
for list in gmatch(code, "for%s+([%a_][%w_%s,]*)%s+in[%s%(]") do declare(list) end
for nm in gmatch(code, "for%s+([%a_][%w_]*)%s*=") do declared[nm] = true end
for list in gmatch(code, "function[%s%w_%.:]*%(([^)]*)%)") do declare(list) end
declared["self"] = true
for _, kw in ipairs({ "function", "const", "close" }) do declared[kw] = nil end

local KEYWORDS = {}
for kw in gmatch("and break do else elseif end false for function goto if in local nil not or repeat return then true until while", "%a+") do
  KEYWORDS[kw] = true
end

-- 3. Every name that is not a field.
local depth, last_end, prev_word, prev_prev = 0, 1, nil, nil
for s, word, e in gmatch(code, "()([%a_][%w_]*)()") do
  local between = sub(code, last_end, s - 1)
  for b in gmatch(between, "[{}]") do depth = depth + (b == "{" and 1 or -1) end
  last_end = e
  local before = match(sub(code, s > 64 and s - 64 or 1, s - 1), "(%S?%S?)%s*$") or ""
  local glued = s > 1 and find(sub(code, s - 1, s - 1), "[%w_]")
  local field = (sub(before, -1) == "." and sub(before, -2, -2) ~= ".") or
                (sub(before, -1) == ":" and sub(before, -2, -2) ~= ":")
  local label = sub(before, -2) == "::"                                  -- ::name::
  local attribute = sub(before, -1) == "<" and match(code, "^%s*>", e) -- local x <const>
  if not glued and not field and not label and not attribute and not KEYWORDS[word]
     and prev_word ~= "goto" then
    local after = match(code, "^%s*(.?.?)", e)
    local assigns = sub(after, 1, 1) == "=" and sub(after, 2, 2) ~= "="
    local defines = prev_word == "function" and match(sub(code, s > 16 and s - 16 or 1, s - 1), "function%s+$")
    if defines and prev_prev ~= "local" and sub(after, 1, 1) == "(" and not declared[word] then
      add(s, "global function '%s': write 'local function %s'", word, word)
    elseif assigns and depth > 0 then
      -- a table key: { name = ... }
    elseif assigns and not declared[word] then
      add(s, "assignment to the global '%s': declare it with 'local'", word)
    elseif not declared[word] and rawget(env, word) == nil then
      add(s, "unknown name '%s' (not declared in this file, not part of the playbook API)", word)
    elseif not declared[word] and type(rawget(env, word)) == "table" and sub(after, 1, 1) == "."
           and sub(after, 2, 2) ~= "." then
      local member = match(code, "^%s*%.%s*([%a_][%w_]*)", e)
      if member and rawget(rawget(env, word), member) == nil then
        add(s, "%s.%s is not part of the playbook API", word, member)
      end
    end
  end
  if not glued and not field then prev_prev, prev_word = prev_word, word end
end

-- 4. Destructive calls the policy does not allow.
local DESTRUCTIVE = {
  { pattern = "device%s*%.%s*restore_backup%f[^%w_]", kind = "restore_backup", what = "device.restore_backup" },
  { pattern = "device%s*%.%s*factory_reset%f[^%w_]", kind = "factory_reset", what = "device.factory_reset" },
  { pattern = "erase%s*=%s*true", kind = "erase", what = "restore_firmware{erase = true}" },
}
for _, d in ipairs(DESTRUCTIVE) do
  local pos = find(code, d.pattern)
  if pos and policy ~= false and not (policy and policy[d.kind]) then
    add(pos, "%s needs policy = { %s = true } in the header", d.what, d.kind)
  end
end

table.sort(findings, function(a, b) return a.line < b.line end)
return findings
