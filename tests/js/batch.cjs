// The JavaScript Graph SDK's BatchRequestContent / BatchResponseContent against mockdrive's
// $batch, run by tests/test_js_sdk_batch.py. Env: MOCKDRIVE_URL (https), MOCKDRIVE_TOKEN,
// NODE_EXTRA_CA_CERTS (the mock's CA), FOLDERS (comma-separated folder names to invite
// carol@contoso.example to). Prints one JSON line: {status: {id: status}, retryAfter: {...},
// bodies: {id: body}}.
"use strict";
const {
  BatchRequestContent,
  BatchResponseContent,
  Client,
} = require("@microsoft/microsoft-graph-client");

async function main() {
  const base = new URL(process.env.MOCKDRIVE_URL);
  const client = Client.initWithMiddleware({
    baseUrl: base.origin + "/",
    defaultVersion: "v1.0",
    customHosts: new Set([base.hostname]), // the SDK sends its token only to hosts it knows
    authProvider: { getAccessToken: async () => process.env.MOCKDRIVE_TOKEN },
  });
  const steps = process.env.FOLDERS.split(",").map((name) => ({
    id: name,
    request: new Request(`${base.origin}/v1.0/me/drive/root:/${name}:/invite`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        recipients: [{ email: "carol@contoso.example" }],
        roles: ["write"],
        sendInvitation: true,
      }),
    }),
  }));
  // The SDK allows a batch to be parallel, serial or all on one dependency: this one is parallel.
  steps.push({
    id: "check",
    request: new Request(`${base.origin}/v1.0/me/drive/root:/${steps[0].id}`, { method: "GET" }),
  });
  const content = await new BatchRequestContent(steps).getContent();
  const raw = await client.api("/$batch").post(content);
  const answer = new BatchResponseContent(raw);
  const out = { status: {}, retryAfter: {}, bodies: {} };
  for (const [id, response] of answer.getResponses()) {
    out.status[id] = response.status;
    out.retryAfter[id] = response.headers.get("Retry-After");
    out.bodies[id] = await response.json();
  }
  console.log(JSON.stringify(out));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
