// Decides AWS requests the way IAM does, for the local backend's strict mode.
// Reads one JSON request per line on stdin, writes one JSON decision per line on stdout:
//   {"id", "principal", "action", "resource", "account", "identityPolicies": [...],
//    "resourcePolicy"?, "boundaryPolicies"?: [...], "context": {...}}  ->  {"id", "result", "errors"?}
// result is Allowed, ImplicitlyDenied or ExplicitlyDenied (or Error when the request itself is
// malformed: an unknown action, or a resource ARN that is not of a type the action takes).
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })

for await (const line of lines) {
  if (!line.trim()) continue
  const request = JSON.parse(line)
  let reply
  try {
    const outcome = await runSimulation(
      {
        request: {
          principal: request.principal,
          action: request.action,
          resource: { resource: request.resource, accountId: request.account },
          contextVariables: request.context ?? {},
        },
        identityPolicies: request.identityPolicies.map((policy, index) => ({ name: `policy${index}`, policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: request.resourcePolicy ?? undefined,
        // None is no boundary at all (an empty list would be a boundary that allows nothing).
        permissionBoundaryPolicies: request.boundaryPolicies?.length
          ? request.boundaryPolicies.map((policy, index) => ({ name: `boundary${index}`, policy }))
          : undefined,
      },
      { simulationMode: 'Strict' },
    )
    if (outcome.resultType === 'error') {
      reply = { id: request.id, result: 'Error', errors: outcome.errors }
    } else {
      reply = { id: request.id, result: outcome.overallResult }
    }
  } catch (error) {
    reply = { id: request.id, result: 'Error', errors: { message: String(error?.stack ?? error) } }
  }
  process.stdout.write(JSON.stringify(reply) + '\n')
}
