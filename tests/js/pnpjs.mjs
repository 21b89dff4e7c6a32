// PnPjs (@pnp/graph 4.x over @pnp/queryable) against mockdrive, set up as its users do: the
// GraphBrowser behaviour (Node's fetch, retries on 429/503/504) with the mock's Graph URL as its
// baseUrl, and a token added at PnPjs's `auth` moment. Driven by tests/test_pnpjs.py, which
// writes one step name a line on stdin and checks the mock's state after each; this prints one
// JSON line per step: {step, ok, result} or {step, ok: false, detail}.
// Env: MOCKDRIVE_URL (https origin), MOCKDRIVE_GRAPH (…/v1.0), MOCKDRIVE_TENANT, ADA_TOKEN,
// BOB_TOKEN, NODE_EXTRA_CA_CERTS (the mock's CA).
import { createInterface } from "node:readline";
import { ClientSecretCredential } from "@azure/identity";
import { graphfi, GraphBrowser } from "@pnp/graph";
import "@pnp/graph/users/index.js";
import "@pnp/graph/files/index.js";
import "@pnp/graph/permissions/index.js";
import "@pnp/graph/shares/index.js";
import "@pnp/graph/batching.js";
import { BearerToken } from "@pnp/queryable";

const origin = process.env.MOCKDRIVE_URL;
const baseUrl = process.env.MOCKDRIVE_GRAPH;
const GRAPH_DEFAULT = "https://graph.microsoft.com/.default";

/** A behaviour adding `Bearer <token>` at the auth moment (PnPjs's own pattern for custom auth):
 * what inherits a queryable's `auth` observers gets the token, an upload session's queryable
 * does not. */
function StaticToken(token) {
  return (instance) => {
    instance.on.auth(async (url, init) => {
      init.headers = { ...init.headers, Authorization: `Bearer ${token}` };
      return [url, init];
    });
    return instance;
  };
}

/** The same with a token from an @azure/identity credential (asked at the mock's Entra). */
function CredentialToken(credential, scopes) {
  return (instance) => {
    instance.on.auth(async (url, init) => {
      const { token } = await credential.getToken(scopes);
      init.headers = { ...init.headers, Authorization: `Bearer ${token}` };
      return [url, init];
    });
    return instance;
  };
}

const graph = graphfi().using(GraphBrowser({ baseUrl }), StaticToken(process.env.ADA_TOKEN));
const bob = graphfi().using(GraphBrowser({ baseUrl }), StaticToken(process.env.BOB_TOKEN));
const seen = {};

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** What PnPjs rejected with: its HttpRequestError, with the body it parsed. */
async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    if (!error.isHttpRequestError) throw error;
    return {
      name: error.constructor.name,
      status: error.status,
      statusText: error.statusText,
      message: error.message,
      body: await error.response.json(),
      retryAfter: error.response.headers.get("retry-after"),
    };
  }
  throw new Error("PnPjs resolved where a refusal was expected");
}

function pattern(size) {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return bytes;
}

const steps = {
  "me/drive": async () => {
    const drive = await graph.me.drive();
    const root = await graph.me.drive.root();
    return { id: drive.id, driveType: drive.driveType, owner: drive.owner, rootId: root.id };
  },
  "root children": async () => {
    const children = await graph.me.drive.root.children();
    const byPath = await graph.me.drive.getItemsByPath("Projects")();
    return { names: children.map((i) => i.name), inProjects: byPath.map((i) => i.name) };
  },
  "create a folder": async () => {
    const made = await graph.me.drive.root.children.addFolder({ name: "Reports" });
    const again = await graph.me.drive.root.children.addFolder({ name: "Reports" });
    seen.folder = made.id;
    return { made, again: again.name };
  },
  "add a file (POST, then PUT content)": async () => {
    const folder = graph.me.drive.getItemById(seen.folder);
    const added = await folder.children.add({
      filename: "todo.txt",
      content: "call Bob\n",
      contentType: "text/plain",
    });
    return added;
  },
  "small upload": async () => {
    const folder = graph.me.drive.getItemById(seen.folder);
    const uploaded = await folder.upload({
      filePathName: "notes.txt",
      content: "q3 notes\n",
      contentType: "text/plain",
    });
    seen.notes = uploaded.id;
    const replaced = await graph.me.drive.getItemById(uploaded.id).upload({
      content: "q3 notes, v2\n",
      contentType: "text/plain",
    });
    return { uploaded, replaced };
  },
  "large upload (upload session)": async () => {
    const data = pattern(3 * 327680 + 1000);
    const folder = graph.me.drive.getItemById(seen.folder);
    const { session, resumableUpload } = await folder.createUploadSession({
      item: { name: "figures.bin" },
    });
    const chunk = 2 * 327680;
    let answer;
    for (let start = 0; start < data.length; start += chunk) {
      const end = Math.min(start + chunk, data.length);
      answer = await resumableUpload.upload(
        end - start, data.subarray(start, end), `bytes ${start}-${end - 1}/${data.length}`);
    }
    seen.figures = answer.id;
    // on an item addressed by path, PnPjs makes `root:/Reports::/figures.bin:/createUploadSession`
    const byPath = await refusal(graph.me.drive.getItemByPath("Reports")
      .createUploadSession({ item: { name: "figures.bin" } }));
    return { session, answer, byPath };
  },
  "read content": async () => {
    const blob = await graph.me.drive.getItemById(seen.notes).getContent();
    const figures = await graph.me.drive.getItemById(seen.figures).getContent();
    const bytes = Buffer.from(await figures.arrayBuffer());
    return { notes: await blob.text(), figuresMatch: bytes.equals(pattern(bytes.length)),
             figuresSize: bytes.length };
  },
  "children in pages": async () => {
    const pages = [];
    for await (const page of graph.me.drive.getItemById(seen.folder).children.top(2)) {
      pages.push(page.map((i) => i.name));
    }
    return pages;
  },
  "copy": async () => {
    const location = await graph.me.drive.getItemById(seen.figures).copyItem({
      parentReference: { id: seen.folder },
      name: "figures-copy.bin",
    });
    const monitor = await (await fetch(location)).json();
    return { location, monitor };
  },
  "rename": async () => {
    return await graph.me.drive.getItemById(seen.notes).update({ name: "summary.txt" });
  },
  "move": async () => {
    const archive = await graph.me.drive.root.children.addFolder({ name: "Archive" });
    seen.archive = archive.id;
    return await graph.me.drive.getItemById(seen.notes).moveItem({
      parentReference: { id: archive.id },
      name: "q3-summary.txt",
    });
  },
  "invite": async () => {
    const granted = await graph.me.drive.getItemById(seen.figures).addPermissions({
      recipients: [{ email: "bob@contoso.example" }],
      roles: ["write"],
      requireSignIn: true,
      sendInvitation: true,
      message: "the figures",
    });
    seen.bobPermission = granted[0].id;
    return granted;
  },
  "shared with me (as Bob)": async () => {
    return await bob.me.drive.sharedWithMe();
  },
  "create a sharing link": async () => {
    const link = await graph.me.drive.getItemById(seen.figures).createSharingLink({
      type: "view",
      scope: "organization",
    });
    seen.link = link;
    return link;
  },
  "list permissions": async () => {
    const item = graph.me.drive.getItemById(seen.figures);
    const listed = await item.permissions();
    const one = await item.permissions.getById(seen.bobPermission)();
    return { listed, one };
  },
  "update and delete a permission": async () => {
    const bobs = graph.me.drive.getItemById(seen.figures).permissions.getById(seen.bobPermission);
    const updated = await bobs.update({ roles: ["read"] });
    const deleted = await bobs.delete();
    return { updated, deleted };
  },
  "redeem a sharing link (/shares)": async () => {
    const encodedSharingUrl = bob.shares.encodeSharingLink(seen.link.link.webUrl);
    const shared = await bob.shares.useSharingLink({ encodedSharingUrl });
    // PnPjs asks `/shares/{id}/driveitem`: the documented segment is `driveItem`
    const item = await refusal(bob.shares.getById(encodedSharingUrl).driveItem());
    const redeemed = await bob.shares.useSharingLink({ shareId: seen.link.shareId,
                                                       redeemSharingLink: true });
    // base64 with two "/": PnPjs replaces the first only
    const slip = bob.shares.encodeSharingLink("https://contoso.example/s/????");
    return { encodedSharingUrl, shared, item, redeemed, slip };
  },
  "delta": async () => {
    // delta() is a queryable: calling it reads a page as {values, next(), delta()}
    const first = await graph.me.drive.root.delta({ maxPageSize: 3 }).top(4)();
    const next = first.next();
    // next() is a plain collection over the nextLink: its answer is that page's items only
    const second = await next();
    const all = await graph.me.drive.root.delta()();
    await graph.me.drive.root.children.addFolder({ name: "After delta" });
    const changes = await all.delta(); // the deltaLink, read with the delta parser again
    return {
      first: first.values.map((i) => i.name),
      second: second.map((i) => i.name),
      whole: all.values.map((i) => i.name),
      wholeHasNext: all.next() !== null,
      changes: changes.values.map((i) => i.name),
      changesHaveDeltaLink: changes.delta !== undefined,
    };
  },
  "batch": async () => {
    const [batched, execute] = graph.batched();
    const children = batched.me.drive.root.children();
    const notes = batched.me.drive.getItemById(seen.notes)();
    const missing = batched.me.drive.getItemByPath("nothing-here.txt")();
    const made = batched.me.drive.root.children.addFolder({ name: "From a batch" });
    await execute();
    const [c, n, f] = await Promise.all([children, notes, made]);
    const m = await refusal(missing);
    return { children: c.map((i) => i.name), notes: n.name, made: f.name, missing: m };
  },
  "throttled (429 with Retry-After)": async () => {
    const started = Date.now();
    const children = await graph.me.drive.getItemById(seen.folder).children();
    return { names: children.map((i) => i.name), waitedMs: Date.now() - started };
  },
  "throttled past its retries": async () => {
    return await refusal(graph.me.drive.getItemById(seen.folder).children());
  },
  "not found (404)": async () => {
    return await refusal(graph.me.drive.getItemByPath("Reports/nothing.txt")());
  },
  "forbidden (403)": async () => {
    const ada = (await graph.me.drive()).id;
    return await refusal(bob.drives.getById(ada).getItemById(seen.figures).delete());
  },
  "delete": async () => {
    return await graph.me.drive.getItemById(seen.archive).delete();
  },
  "BearerToken sends its token with the fragments": async () => {
    const viaPre = graphfi().using(GraphBrowser({ baseUrl }), BearerToken(process.env.ADA_TOKEN));
    const { resumableUpload } = await viaPre.me.drive.getItemById(seen.folder)
      .createUploadSession({ item: { name: "bearer.bin" } });
    return await refusal(resumableUpload.upload(5, Buffer.from("hello"), "bytes 0-4/5"));
  },
  "signed in with @azure/identity": async () => {
    const credential = new ClientSecretCredential(
      process.env.MOCKDRIVE_TENANT, "backup-job", "s3cret",
      { authorityHost: origin, disableInstanceDiscovery: true });
    const app = graphfi().using(GraphBrowser({ baseUrl }),
                                CredentialToken(credential, [GRAPH_DEFAULT]));
    const children = await app.users.getById("ada@contoso.example").drive.root.children();
    return children.map((i) => i.name);
  },
};

const lines = createInterface({ input: process.stdin });
for await (const step of lines) {
  try {
    const result = await steps[step]();
    console.log(JSON.stringify({ step, ok: true, result: result ?? null }));
  } catch (error) {
    console.log(JSON.stringify({ step, ok: false, detail: String(error && error.stack) }));
  }
}
