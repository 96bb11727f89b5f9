-- mod_callcenter's queues for the call controller's `acdc_member` nodes, served as FreeSWITCH
-- XML configuration (mod_lua's xml-handler-script, bound to the configuration section in
-- autoload_configs/lua.conf.xml).
--
-- mod_callcenter reads a queue's settings when it first meets the queue's name (the `callcenter`
-- application, `callcenter_config tier add` or `queue load`), asking for callcenter.conf with the
-- name as `CC-Queue`. The controller names its queues
--   acdc.<account id>.<queue id>.<strategy>.<max wait seconds>
-- (controller/modules/callcenter.py): this script answers for such names only, with the strategy
-- and the max-wait-time the name carries; anything else gets no answer, and FreeSWITCH reads its
-- own files as usual. So no queue has to be written anywhere, and a restarted FreeSWITCH loads
-- each queue again on its first call.

local section = XML_REQUEST and XML_REQUEST["section"]
local wanted = params and params:getHeader("CC-Queue")
if section ~= "configuration" or XML_REQUEST["key_value"] ~= "callcenter.conf" or not wanted then
  return
end

local strategy, wait = wanted:match("^acdc%.[%w_%-]+%.[%w_%-]+%.([%l%-]+)%.(%d+)$")
local strategies = { ["round-robin"] = true, ["longest-idle-agent"] = true, ["ring-all"] = true }
if not strategy or not strategies[strategy] or #wait > 6 or #wanted > 200 then
  return
end

local settings = {
  { "strategy", strategy },
  -- Each caller's own music comes from cc_moh_override; this is what plays without it.
  { "moh-sound", "tone_stream://%(200,4800,440);loops=-1" },
  { "time-base-score", "queue" },
  { "max-wait-time", wait },
  { "max-wait-time-with-no-agent", "0" },
  { "max-wait-time-with-no-agent-time-reached", "5" },
  { "tier-rules-apply", "false" },
  { "discard-abandoned-after", "60" },
  { "abandoned-resume-allowed", "false" },
}
local lines = {}
for _, setting in ipairs(settings) do
  lines[#lines + 1] = string.format('<param name="%s" value="%s"/>', setting[1], setting[2])
end

XML_STRING = table.concat({
  '<document type="freeswitch/xml"><section name="configuration">',
  '<configuration name="callcenter.conf" description="CallCenter"><queues>',
  '<queue name="', wanted, '">', table.concat(lines), '</queue>',
  '</queues></configuration></section></document>',
})
