-- Argo CD health check of research.gdplabs.id/DeepResearchDeployment.
-- Argo CD sets `obj` to the live resource; the check returns its health:
--   Suspended    the paused annotation is "true", or status.phase is Paused
--   Progressing  no status yet, status older than the spec, or still rolling out
--   Degraded     condition Degraded is True (failed migration, invalid profiles, ...)
--   Healthy      condition Ready is True
local health = {}

local function find_condition(conditions, condition_type)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == condition_type then
      return condition
    end
  end
  return nil
end

local annotations = obj.metadata.annotations or {}
local paused = annotations["research.gdplabs.id/paused"]
if paused ~= nil and string.lower(paused) == "true" then
  health.status = "Suspended"
  health.message = "Reconciliation is paused by the research.gdplabs.id/paused annotation."
  return health
end

local status = obj.status
if status == nil or status.conditions == nil then
  health.status = "Progressing"
  health.message = "Waiting for the operator to report status."
  return health
end

if status.phase == "Paused" then
  health.status = "Suspended"
  health.message = "Reconciliation is paused."
  return health
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  health.status = "Progressing"
  health.message = "Waiting for the operator to reconcile generation " .. tostring(generation) .. "."
  return health
end

local degraded = find_condition(status.conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  health.status = "Degraded"
  health.message = degraded.message or degraded.reason or "Degraded."
  return health
end

local ready = find_condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  health.status = "Healthy"
  health.message = ready.message or "Every component is ready."
  return health
end

local progressing = find_condition(status.conditions, "Progressing")
health.status = "Progressing"
if progressing ~= nil and progressing.status == "True" and progressing.message ~= nil then
  health.message = progressing.message
elseif ready ~= nil and ready.message ~= nil then
  health.message = ready.message
else
  health.message = "Waiting for condition Ready."
end
return health
