// The official JavaScript Graph SDK against mockdrive, run by tests/test_js_sdk.py.
// Usage: node walkthrough.cjs STEP[,STEP...]; env MOCKDRIVE_URL (https), MOCKDRIVE_TOKEN and
// NODE_EXTRA_CA_CERTS (the mock's CA). Prints one JSON line per step: {step, ok, detail}.
"use strict";
const {
  Client,
  FileUpload,
  LargeFileUploadTask,
  ResponseType,
} = require("@microsoft/microsoft-graph-client");

const base = new URL(process.env.MOCKDRIVE_URL);
const client = Client.initWithMiddleware({
  baseUrl: base.origin + "/",
  defaultVersion: "v1.0",
  // The SDK sends the token only to https hosts it knows: name the mock's host.
  customHosts: new Set([base.hostname]),
  authProvider: { getAccessToken: async () => process.env.MOCKDRIVE_TOKEN },
});

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const steps = {
  async folder() {
    const made = await client.api("/me/drive/root/children").post({
      name: "Projects",
      folder: {},
      "@microsoft.graph.conflictBehavior": "fail",
    });
    check(made.name === "Projects" && made.folder, JSON.stringify(made));
    return made.id;
  },
  async upload() {
    const bytes = Buffer.alloc(1024 * 1024 + 123, 7); // more than three 320 KiB ranges
    const session = await LargeFileUploadTask.createUploadSession(
      client,
      "/me/drive/root:/Projects/big.bin:/createUploadSession",
      { item: { "@microsoft.graph.conflictBehavior": "replace" } },
    );
    const file = new FileUpload(bytes, "big.bin", bytes.length);
    const task = new LargeFileUploadTask(client, file, session, { rangeSize: 327680 });
    const result = await task.upload();
    const item = result.responseBody;
    check(item && item.size === bytes.length, JSON.stringify(item));
    return item.size;
  },
  async small() {
    const item = await client
      .api("/me/drive/root:/Projects/notes.txt:/content")
      .header("Content-Type", "text/plain")
      .put("0123456789abcdef");
    check(item.size === 16, JSON.stringify(item));
    return item.id;
  },
  async rename() {
    const item = await client.api("/me/drive/root:/Projects/notes.txt").patch({ name: "renamed.txt" });
    check(item.name === "renamed.txt", JSON.stringify(item));
    return item.name;
  },
  async move() {
    const archive = await client
      .api("/me/drive/root:/Projects:/children")
      .post({ name: "Archive", folder: {} });
    const item = await client
      .api("/me/drive/root:/Projects/renamed.txt")
      .patch({ parentReference: { id: archive.id } });
    check(item.parentReference.path === "/drive/root:/Projects/Archive", JSON.stringify(item));
    return item.parentReference.path;
  },
  async range() {
    const item = await client.api("/me/drive/root:/Projects/Archive/renamed.txt").get();
    const response = await client
      .api(`/me/drive/items/${item.id}/content`)
      .header("Range", "bytes=2-5")
      .responseType(ResponseType.RAW)
      .get();
    const text = await response.text();
    check(response.status === 206 && text === "2345", `${response.status} ${text}`);
    return text;
  },
  async selectExpand() {
    const folder = await client.api("/me/drive/root:/Projects").select("id,name").expand("children").get();
    const keys = Object.keys(folder).filter((k) => !k.startsWith("@odata."));
    check(keys.sort().join() === "children,id,name", JSON.stringify(folder));
    const names = folder.children.map((c) => c.name);
    check(names.includes("Archive"), JSON.stringify(names));
    return names;
  },
  async invite() {
    const result = await client.api("/me/drive/root:/Projects:/invite").post({
      recipients: [{ email: "bob@contoso.example" }],
      roles: ["write"],
      requireSignIn: true,
      sendInvitation: true,
      message: "from the JS SDK",
    });
    check(result.value.length === 1 && result.value[0].roles[0] === "write", JSON.stringify(result));
    return result.value[0].id;
  },
  async permissions() {
    const result = await client.api("/me/drive/root:/Projects/Archive/renamed.txt:/permissions").get();
    const bob = result.value.find(
      (p) => p.grantedToV2 && p.grantedToV2.user && p.grantedToV2.user.email === "bob@contoso.example",
    );
    check(bob && bob.inheritedFrom.path === "/drive/root:/Projects", JSON.stringify(result));
    return bob.roles;
  },
};

(async () => {
  for (const name of process.argv[2].split(",")) {
    try {
      const detail = await steps[name]();
      console.log(JSON.stringify({ step: name, ok: true, detail }));
    } catch (error) {
      const detail = [error.statusCode, error.code, error.message].filter(Boolean).join(" ");
      console.log(JSON.stringify({ step: name, ok: false, detail }));
    }
  }
})();
