// Validates Kubernetes objects (a JSON array on stdin) against the OpenAPI schemas bundled in the
// npm package kubernetes-models (offline: no schema is downloaded). Prints one JSON line per
// object: {"kind", "name", "ok", "error"?}.
// Exit: 0 all valid, 1 some invalid, 3 kubernetes-models is not installed (tests skip then).
import { readFileSync } from "node:fs";

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

let objects;
try {
  objects = JSON.parse(readFileSync(0, "utf8"));
} catch (e) {
  console.error(`stdin is not a JSON array of objects: ${e.message}`);
  process.exit(2);
}

try {
  await import("kubernetes-models/v1/ConfigMap");
} catch (e) {
  console.error(`kubernetes-models is not installed (npm ci in tests/ship): ${e.code || e.message}`);
  process.exit(3);
}

let failed = 0;
for (const obj of objects) {
  const name = obj?.metadata?.name ?? "?";
  let module;
  try {
    module = await import(modulePath(obj.apiVersion, obj.kind));
  } catch (e) {
    console.log(JSON.stringify({ kind: obj.kind, name, ok: false, error: `unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}` }));
    failed++;
    continue;
  }
  const Model = module[obj.kind];
  try {
    new Model(obj).validate();
    console.log(JSON.stringify({ kind: obj.kind, name, ok: true }));
  } catch (e) {
    console.log(JSON.stringify({ kind: obj.kind, name, ok: false, error: e.message }));
    failed++;
  }
}
process.exit(failed ? 1 : 0);
