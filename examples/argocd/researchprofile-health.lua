-- Argo CD health check of research.gdplabs.id/ResearchProfile.
-- Argo CD sets `obj` to the live resource; the check returns its health:
--   Healthy      condition Accepted is True (provider and params are valid)
--   Degraded     condition Accepted is False; the message names the invalid field
--   Progressing  no Accepted condition yet, or it describes an older generation
local health = {}

local status = obj.status
local accepted = nil
if status ~= nil and status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Accepted" then
      accepted = condition
    end
  end
end

if accepted == nil then
  health.status = "Progressing"
  health.message = "Waiting for the operator to validate the profile."
  return health
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  health.status = "Progressing"
  health.message = "Waiting for the operator to validate generation " .. tostring(generation) .. "."
  return health
end

if accepted.status == "True" then
  health.status = "Healthy"
elseif accepted.status == "False" then
  health.status = "Degraded"
else
  health.status = "Progressing"
end
health.message = accepted.message or accepted.reason or ""
return health
