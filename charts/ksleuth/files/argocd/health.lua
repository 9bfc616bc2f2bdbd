-- Argo CD health check for ksleuth.io KernelMitigation and KernelInvestigation (docs/gitops.md).
-- It reads the Ready, Reconciling and Stalled conditions the operator keeps for the generation in
-- status.observedGeneration; exactly one of them is True. Runs without Lua's standard libraries.
local waiting = { status = "Progressing", message = "Waiting for the ksleuth operator" }
if obj.status == nil or obj.status.conditions == nil then
  return waiting
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  waiting.message = "Waiting for the ksleuth operator to act on the latest spec"
  return waiting
end
local conditions = {}
for _, condition in ipairs(obj.status.conditions) do
  conditions[condition.type] = condition
end
local function holds(kind)
  return conditions[kind] ~= nil and conditions[kind].status == "True"
end
if holds("Stalled") then
  return { status = "Degraded", message = conditions["Stalled"].message }
end
if holds("Reconciling") then
  return { status = "Progressing", message = conditions["Reconciling"].message }
end
if holds("Ready") then
  return { status = "Healthy", message = conditions["Ready"].message }
end
return waiting
