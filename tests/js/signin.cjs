// @azure/identity and @azure/msal-node sign in at mockdrive's Entra endpoints, then the JS Graph
// SDK uses those credentials (TokenCredentialAuthenticationProvider). Run by
// tests/test_js_identity.py. Env: MOCKDRIVE_URL (https), MOCKDRIVE_TENANT, NODE_EXTRA_CA_CERTS
// (the mock's CA). Prints one JSON line per step, in order: {step, ok, detail, result}.
"use strict";
const {
  ClientSecretCredential,
  DeviceCodeCredential,
  UsernamePasswordCredential,
} = require("@azure/identity");
const { ConfidentialClientApplication, PublicClientApplication } = require("@azure/msal-node");
const { Client } = require("@microsoft/microsoft-graph-client");
const {
  TokenCredentialAuthenticationProvider,
} = require("@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials");

const base = new URL(process.env.MOCKDRIVE_URL);
const tenant = process.env.MOCKDRIVE_TENANT;
const APP = "backup-job";
const CLI = "3f2e1d0c-b9a8-4765-8432-10fedcba9876";
const MSAL_CLI = "msal-node-cli";
const GRAPH_DEFAULT = "https://graph.microsoft.com/.default";
// azure-identity: the mock is the authority host; instance discovery would ask Microsoft.
const where = { authorityHost: base.origin, disableInstanceDiscovery: true };
// msal-node: a known authority is trusted without instance discovery.
const authority = { authority: `${base.origin}/${tenant}`, knownAuthorities: [base.host] };

const appCredential = new ClientSecretCredential(tenant, APP, "s3cret", where);
const prompts = [];
const deviceCredential = new DeviceCodeCredential({
  tenantId: tenant,
  clientId: CLI,
  ...where,
  userPromptCallback: (info) => prompts.push(info),
});

function graphAs(credential, scopes) {
  return Client.initWithMiddleware({
    baseUrl: base.origin,
    defaultVersion: "v1.0",
    customHosts: new Set([base.hostname]), // the SDK sends the token to these hosts only
    authProvider: new TokenCredentialAuthenticationProvider(credential, { scopes }),
  });
}

function claims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const steps = [
  ["ClientSecretCredential", async () => {
    const token = await appCredential.getToken(GRAPH_DEFAULT);
    const { appid, roles } = claims(token.token);
    check(appid === APP, appid);
    return { roles, expiresInFuture: token.expiresOnTimestamp > Date.now() };
  }],
  ["DeviceCodeCredential", async () => {
    const token = await deviceCredential.getToken("Files.ReadWrite.All");
    check(prompts.length === 1 && prompts[0].userCode, JSON.stringify(prompts));
    return { upn: claims(token.token).upn, scp: claims(token.token).scp };
  }],
  ["UsernamePasswordCredential", async () => {
    const credential = new UsernamePasswordCredential(
      tenant, CLI, "bob@contoso.example", "any password", where);
    const token = await credential.getToken("Files.Read");
    return { upn: claims(token.token).upn, scp: claims(token.token).scp };
  }],
  ["msal-node client credentials", async () => {
    const app = new ConfidentialClientApplication({
      auth: { clientId: APP, clientSecret: "s3cret", ...authority },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [GRAPH_DEFAULT] });
    const { appid, tid } = claims(result.accessToken);
    return { appid, tid, scopes: result.scopes };
  }],
  ["msal-node device code", async () => {
    const app = new PublicClientApplication({ auth: { clientId: MSAL_CLI, ...authority } });
    let message = "";
    const result = await app.acquireTokenByDeviceCode({
      scopes: ["Files.Read"],
      deviceCodeCallback: (response) => { message = response.message; },
    });
    check(message.includes("devicelogin"), message);
    return { username: result.account.username, scopes: result.scopes };
  }],
  ["graph client as the app: list a user's drive", async () => {
    const client = graphAs(appCredential, [GRAPH_DEFAULT]);
    const children = await client.api("/users/ada@contoso.example/drive/root/children").get();
    return children.value.map((item) => item.name).sort();
  }],
  ["graph client as the app: invite", async () => {
    const client = graphAs(appCredential, [GRAPH_DEFAULT]);
    const invited = await client.api("/users/ada@contoso.example/drive/root:/Projects:/invite")
      .post({ recipients: [{ email: "lee@example.org" }], roles: ["read"],
              requireSignIn: true, sendInvitation: false });
    return invited.value.map((p) => p.roles);
  }],
  ["graph client as the signed-in user: list their drive", async () => {
    const client = graphAs(deviceCredential, ["Files.ReadWrite.All"]);
    const children = await client.api("/me/drive/root/children").get();
    return children.value.map((item) => item.name).sort();
  }],
  ["graph client as the signed-in user: invite", async () => {
    const client = graphAs(deviceCredential, ["Files.ReadWrite.All"]);
    const invited = await client.api("/me/drive/root:/Notes.txt:/invite").post({
      recipients: [{ email: "bob@contoso.example" }], roles: ["write"],
      requireSignIn: true, sendInvitation: true, message: "from the device-code user",
    });
    return invited.value.map((p) => p.roles);
  }],
];

(async () => {
  for (const [step, run] of steps) {
    try {
      const result = await run();
      console.log(JSON.stringify({ step, ok: true, result }));
    } catch (error) {
      console.log(JSON.stringify({ step, ok: false, detail: String(error && error.stack) }));
    }
  }
})();
