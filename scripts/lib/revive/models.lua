--[[
revive.models — which buttons a person presses, and for how long, on each iPhone.

Three families differ (Apple's published steps):
  home    — iPhone 6s and earlier, iPhone SE (1st generation): a Home button. The
            Sleep/Wake button is on the side from iPhone 6 on, on the top before, and on
            the iPhone SE (1st generation).
  iphone7 — iPhone 7 and 7 Plus: no mechanical Home button; Volume Down takes its place.
  modern  — iPhone 8 and later, including iPhone SE (2nd and 3rd generation): quick
            presses of Volume Up then Volume Down, then the Side button.
A model revive does not know yet (an iPad, a newer product type, or none read in DFU)
gets all three, each labelled, rather than a guess.

guide(kind, product_type) -> { title, lines, phases, wait_lines, timeout, model }
  kind: "force_restart", "dfu" or "recovery". phases are the timed parts, in seconds,
  that the runtime counts down; wait_lines are shown while it waits for the phone.
]]
local M = {}

local NAMES = {
  ["iPhone5,1"] = "iPhone 5", ["iPhone5,2"] = "iPhone 5", ["iPhone5,3"] = "iPhone 5c",
  ["iPhone5,4"] = "iPhone 5c", ["iPhone6,1"] = "iPhone 5s", ["iPhone6,2"] = "iPhone 5s",
  ["iPhone7,2"] = "iPhone 6", ["iPhone7,1"] = "iPhone 6 Plus", ["iPhone8,1"] = "iPhone 6s",
  ["iPhone8,2"] = "iPhone 6s Plus", ["iPhone8,4"] = "iPhone SE (1st generation)",
  ["iPhone9,1"] = "iPhone 7", ["iPhone9,3"] = "iPhone 7", ["iPhone9,2"] = "iPhone 7 Plus",
  ["iPhone9,4"] = "iPhone 7 Plus", ["iPhone10,1"] = "iPhone 8", ["iPhone10,4"] = "iPhone 8",
  ["iPhone10,2"] = "iPhone 8 Plus", ["iPhone10,5"] = "iPhone 8 Plus", ["iPhone10,3"] = "iPhone X",
  ["iPhone10,6"] = "iPhone X", ["iPhone11,2"] = "iPhone XS", ["iPhone11,4"] = "iPhone XS Max",
  ["iPhone11,6"] = "iPhone XS Max", ["iPhone11,8"] = "iPhone XR", ["iPhone12,1"] = "iPhone 11",
  ["iPhone12,3"] = "iPhone 11 Pro", ["iPhone12,5"] = "iPhone 11 Pro Max",
  ["iPhone12,8"] = "iPhone SE (2nd generation)", ["iPhone14,6"] = "iPhone SE (3rd generation)",
}

--- family(product_type) -> "home" | "iphone7" | "modern" | nil, and the Sleep/Wake
--- button's name for home-button models ("Side" or "Top").
function M.family(product_type)
  local major = type(product_type) == "string" and tonumber(product_type:match("^iPhone(%d+),%d+$"))
  if not major then return nil end
  if major <= 8 then
    local top = major <= 6 or product_type == "iPhone8,4"
    return "home", top and "Top" or "Side"
  end
  if major == 9 then return "iphone7" end
  return "modern"
end

function M.name(product_type)
  if NAMES[product_type] then return NAMES[product_type] end
  if type(product_type) == "string" and product_type ~= "" then return product_type end
  return "this iPhone"
end

local function force_restart(family, power)
  if family == "home" then
    return {
      lines = {
        "Press and hold the Home button and the " .. power .. " button together.",
        "Keep holding both until the Apple logo appears (about 10 seconds), then let go.",
      },
      phases = { { text = "Hold Home and " .. power .. " together", seconds = 10 } },
    }
  elseif family == "iphone7" then
    return {
      lines = {
        "Press and hold the Volume Down button and the Side button together.",
        "Keep holding both until the Apple logo appears (about 10 seconds), then let go.",
      },
      phases = { { text = "Hold Volume Down and Side together", seconds = 10 } },
    }
  end
  return {
    lines = {
      "1. Press and quickly release the Volume Up button.",
      "2. Press and quickly release the Volume Down button.",
      "3. Press and hold the Side button until the Apple logo appears (about 10 seconds).",
    },
    phases = {
      { text = "Press and release Volume Up, then Volume Down", seconds = 2 },
      { text = "Hold the Side button", seconds = 10 },
    },
  }
end

local function dfu(family, power)
  if family == "home" then
    return {
      lines = {
        "With the cable connected to this computer:",
        "1. Press and hold the " .. power .. " button and the Home button together for 8 seconds.",
        "2. Let go of the " .. power .. " button but keep holding the Home button for 5 more seconds.",
        "The screen stays black in DFU mode. If the Apple logo appears, you held too long: start again.",
      },
      phases = {
        { text = "Hold " .. power .. " and Home together", seconds = 8 },
        { text = "Let go of " .. power .. ", keep holding Home", seconds = 5 },
      },
      wait_lines = { "Keep holding the Home button until revive sees the phone; the screen stays black." },
    }
  elseif family == "iphone7" then
    return {
      lines = {
        "With the cable connected to this computer:",
        "1. Press and hold the Side button and the Volume Down button together for 8 seconds.",
        "2. Let go of the Side button but keep holding Volume Down for 5 more seconds.",
        "The screen stays black in DFU mode. If the Apple logo appears, you held too long: start again.",
      },
      phases = {
        { text = "Hold Side and Volume Down together", seconds = 8 },
        { text = "Let go of Side, keep holding Volume Down", seconds = 5 },
      },
      wait_lines = { "Keep holding Volume Down until revive sees the phone; the screen stays black." },
    }
  end
  return {
    lines = {
      "With the cable connected to this computer:",
      "1. Press and quickly release Volume Up, then press and quickly release Volume Down.",
      "2. Press and hold the Side button until the screen goes black (about 10 seconds).",
      "3. Keep holding Side and also press and hold Volume Down for 5 seconds.",
      "4. Let go of Side but keep holding Volume Down for 10 more seconds.",
      "The screen stays black in DFU mode. If the Apple logo appears, you held too long: start again.",
    },
    phases = {
      { text = "Press and release Volume Up, then Volume Down", seconds = 2 },
      { text = "Hold the Side button (the screen goes black)", seconds = 10 },
      { text = "Keep holding Side, and hold Volume Down too", seconds = 5 },
      { text = "Let go of Side, keep holding Volume Down", seconds = 10 },
    },
    wait_lines = { "Keep holding Volume Down until revive sees the phone; the screen stays black." },
  }
end

local function recovery(family, power)
  local first
  if family == "home" then
    first = "Press and hold the Home button and the " .. power .. " button together."
  elseif family == "iphone7" then
    first = "Press and hold the Side button and the Volume Down button together."
  else
    first = "Press and quickly release Volume Up, then Volume Down; then press and hold the Side button."
  end
  return {
    lines = {
      "With the cable connected to this computer:",
      first,
      "Keep holding through the Apple logo until the screen shows a computer and a cable (recovery mode).",
    },
  }
end

local BUILD = { force_restart = force_restart, dfu = dfu, recovery = recovery }
local TITLES = { force_restart = "Force restart", dfu = "Put the phone in DFU mode",
                 recovery = "Put the phone in recovery mode" }
local LABELS = {
  home = "iPhone with a Home button (iPhone 6s and earlier, iPhone SE 1st generation)",
  iphone7 = "iPhone 7 or 7 Plus",
  modern = "iPhone 8 or later, iPhone SE 2nd or 3rd generation",
}

function M.guide(kind, product_type)
  local build = BUILD[kind]
  if not build then error(errors.new("invalid", "no guide for '" .. tostring(kind) .. "'")) end
  local family, power = M.family(product_type)
  local model = M.name(product_type)
  local title = TITLES[kind] .. ": " .. model
  if family then
    local g = build(family, power)
    g.title, g.model = title, model
    g.timeout = kind == "dfu" and 20 or 60
    return g
  end
  -- Unknown model: every sequence, labelled, and no countdown (it would fit only one).
  -- Kept short (an engine shows about 17 lines): the notes common to all go first, once.
  local lines = { "revive does not know this model's buttons; use the steps for yours." }
  if kind ~= "force_restart" then
    lines[#lines + 1] = "Keep the cable connected to this computer."
  end
  if kind == "dfu" then
    lines[#lines + 1] = "In DFU mode the screen stays black; if the Apple logo appears, start again."
  end
  for _, fam in ipairs({ "modern", "iphone7", "home" }) do
    lines[#lines + 1] = LABELS[fam] .. ":"
    for _, l in ipairs(build(fam, "Side (or Top)").lines) do
      if not l:find("^With the cable") and not l:find("^The screen stays black") then
        lines[#lines + 1] = "  " .. l
      end
    end
  end
  return { title = title, lines = lines, model = model, timeout = kind == "dfu" and 30 or 90 }
end

return M
