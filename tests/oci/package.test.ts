// `mesh-filters package`: the OCI image Istio 1.20.8's agent accepts, byte-for-byte reproducible.
// The registry round trip is tests/oci/registry.test.ts; here everything runs on files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import tar from "tar-stream";
import { main } from "../../cli/main.ts";
import { REPO_ROOT, buildPlugins } from "../../mesh/input.ts";
import { MEDIA_TYPES, buildImage, gzip, layoutEntries, sha256Hex, tarArchive, writePackage, type ImageMetadata } from "../../oci/image.ts";
import { fetchLikeIstio, layoutSource, type ImageSource } from "../../oci/istio-fetch.ts";

const META: ImageMetadata = {
  version: "1.2.3",
  created: "2024-01-01T00:00:00Z",
  revision: "0123456789abcdef0123456789abcdef01234567",
  source: "https://example.com/mesh-filters",
};

/** A fixed 64 KiB "module": a Wasm header, then words from a small vocabulary, so deflate finds real matches. */
function syntheticModule(): Uint8Array {
  let x = 2463534242;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  const words = Array.from({ length: 64 }, () => Array.from({ length: 2 + (next() % 9) }, () => 97 + (next() % 26)));
  const out = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  while (out.length < 8 + 65536) out.push(...words[next() % 64], next() % 7 === 0 ? 0 : 32);
  return new Uint8Array(out.slice(0, 8 + 65536));
}

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `mesh-filters-${name}-`));

function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

async function tarEntries(bytes: Uint8Array): Promise<{ header: tar.Header; body: Buffer }[]> {
  const extract = tar.extract();
  const entries: { header: tar.Header; body: Buffer }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c) => chunks.push(c as Buffer));
      stream.on("end", () => {
        entries.push({ header, body: Buffer.concat(chunks) });
        next();
      });
    });
    extract.on("finish", () => resolve());
    extract.on("error", reject);
  });
  extract.end(Buffer.from(bytes));
  await done;
  return entries;
}

async function runCli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), cwd: REPO_ROOT });
  return { code, out, err };
}

test("the image of a fixed module has the same digests on every machine and Node version", async () => {
  // Every byte goes into the digest that users pin. If this fails, a change of code or of a
  // dependency (tar-stream's headers, pako's deflate) altered the bytes, and every digest we ever
  // published would change with it. The layer gzip was checked independently: it equals reference
  // zlib 1.2.13's output (Python's zlib.compressobj(9, DEFLATED, 31)) for the same tar.
  const img = await buildImage(syntheticModule(), META);
  assert.equal(img.diffId, "sha256:243fb5659aee7d3fc3dfcadf2064198543f9f0dea1a08439ee9a275c4a08ae4b");
  assert.equal(img.layer.digest, "sha256:98ce9bde994fdb099b94a9a4b3ab31154c156ae35cf586f3564bb0fb76cd5b54");
  assert.equal(img.config.digest, "sha256:aa675f31f7118017d3e47e171b95c968eca0a39680c52c0f8021a6acb23e7f82");
  assert.equal(img.manifest.digest, "sha256:128a8a561ea5dbeb225babe47b6d306e0309212d7f79401b284abff22360d032");
});

test("packaging twice gives byte-identical layouts and archives; one changed byte of the module changes the digests", async () => {
  const module = syntheticModule();
  const [a, b, c] = [tmp("a"), tmp("b"), tmp("c")];
  try {
    const img1 = await buildImage(module, META);
    const img2 = await buildImage(new Uint8Array(module), { ...META });
    await writePackage(a, "mesh-filters", img1, "1.2.3");
    await writePackage(b, "mesh-filters", img2, "1.2.3");
    assert.deepEqual(filesUnder(a), filesUnder(b));
    assert.deepEqual([...filesUnder(a).keys()].sort(), [
      "mesh-filters-1.2.3.tar",
      `mesh-filters/blobs/sha256/${img1.config.digest.slice(7)}`,
      `mesh-filters/blobs/sha256/${img1.layer.digest.slice(7)}`,
      `mesh-filters/blobs/sha256/${img1.manifest.digest.slice(7)}`,
      "mesh-filters/index.json",
      "mesh-filters/oci-layout",
    ].sort());

    const changed = new Uint8Array(module);
    changed[4000] ^= 1;
    const img3 = await buildImage(changed, META);
    await writePackage(c, "mesh-filters", img3, "1.2.3");
    assert.notEqual(img3.layer.digest, img1.layer.digest);
    assert.notEqual(img3.manifest.digest, img1.manifest.digest);
    assert.notDeepEqual(readFileSync(join(c, "mesh-filters-1.2.3.tar")), readFileSync(join(a, "mesh-filters-1.2.3.tar")));
    // The annotations are part of the manifest, not of the layer.
    const img4 = await buildImage(module, { ...META, revision: "fedcba9876543210fedcba9876543210fedcba98" });
    assert.equal(img4.layer.digest, img1.layer.digest);
    assert.notEqual(img4.manifest.digest, img1.manifest.digest);
  } finally {
    for (const d of [a, b, c]) rmSync(d, { recursive: true, force: true });
  }
});

test("the layout: one OCI image manifest (no index pushed), a linux/amd64 config, one tar+gzip layer holding plugin.wasm", async () => {
  const module = syntheticModule();
  const img = await buildImage(module, META);
  const files = new Map(layoutEntries(img, "1.2.3").map((e) => [e.name, e.bytes]));
  const text = (name: string) => JSON.parse(Buffer.from(files.get(name)!).toString("utf8"));

  assert.deepEqual(text("oci-layout"), { imageLayoutVersion: "1.0.0" });
  assert.deepEqual(text("index.json"), {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [{ mediaType: MEDIA_TYPES.manifest, digest: img.manifest.digest, size: img.manifest.size, annotations: { "org.opencontainers.image.ref.name": "1.2.3" } }],
  });
  for (const [name, bytes] of files) {
    if (name.startsWith("blobs/sha256/") && bytes) assert.equal(sha256Hex(bytes), name.slice("blobs/sha256/".length), `${name} is named by its sha256`);
  }
  const manifest = text(`blobs/sha256/${img.manifest.digest.slice(7)}`);
  assert.deepEqual(manifest, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: img.config.digest, size: img.config.size },
    layers: [{ mediaType: MEDIA_TYPES.layer, digest: img.layer.digest, size: img.layer.size }],
    annotations: {
      "org.opencontainers.image.created": "2024-01-01T00:00:00Z",
      "org.opencontainers.image.revision": META.revision,
      "org.opencontainers.image.source": META.source,
      "org.opencontainers.image.version": "1.2.3",
    },
  });
  const layerTar = gunzipSync(img.layer.bytes);
  assert.deepEqual(text(`blobs/sha256/${img.config.digest.slice(7)}`), {
    created: "2024-01-01T00:00:00Z",
    architecture: "amd64",
    os: "linux",
    config: {},
    rootfs: { type: "layers", diff_ids: [`sha256:${sha256Hex(layerTar)}`] },
  });

  // gzip header: deflate, no flags, mtime 0, XFL 2 (maximum compression), OS 3 (Unix) on every platform.
  assert.deepEqual([...img.layer.bytes.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
  const entries = await tarEntries(layerTar);
  assert.equal(entries.length, 1);
  const [{ header, body }] = entries;
  assert.deepEqual(
    { name: header.name, type: header.type, mode: header.mode, uid: header.uid, gid: header.gid, uname: header.uname, gname: header.gname, mtime: header.mtime?.getTime() },
    { name: "plugin.wasm", type: "file", mode: 0o644, uid: 0, gid: 0, uname: "", gname: "", mtime: 0 },
  );
  assert.deepEqual(new Uint8Array(body), module);
});

test("the oci-archive is the layout directory as a tar with fixed headers, oci-layout and index.json first", async () => {
  const img = await buildImage(syntheticModule(), META);
  const entries = layoutEntries(img, "1.2.3");
  const archive = await tarEntries(await tarArchive(entries));
  assert.deepEqual(archive.map((e) => e.header.name), entries.map((e) => e.name));
  assert.deepEqual(archive.map((e) => e.header.name).slice(0, 4), ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]);
  for (const [i, e] of archive.entries()) {
    assert.equal(e.header.mtime?.getTime(), 0);
    assert.equal(e.header.uid, 0);
    assert.equal(e.header.mode, e.header.type === "directory" ? 0o755 : 0o644);
    if (entries[i].bytes) assert.deepEqual(new Uint8Array(e.body), entries[i].bytes);
  }
});

test("Istio 1.20.8's fetcher reads the module back from the layout (compat variant) and checks the manifest digest", async () => {
  const dir = tmp("fetch");
  try {
    const module = syntheticModule();
    const img = await buildImage(module, META);
    const { layoutDir } = await writePackage(dir, "mesh-filters", img, "1.2.3");
    const got = await fetchLikeIstio(layoutSource(layoutDir), "1.2.3", img.manifest.digest.slice(7));
    assert.equal(got.variant, "oci-compat");
    assert.equal(got.digest, img.manifest.digest.slice(7));
    assert.deepEqual(got.module, module);
    await assert.rejects(fetchLikeIstio(layoutSource(layoutDir), "1.2.3", img.moduleSha256), /has checksum [a-f0-9]{64}, which does not match/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An in-memory registry of blobs by digest and tags, for images we do not publish. */
function memorySource(blobs: Uint8Array[], tags: Record<string, Uint8Array>): ImageSource {
  const byDigest = new Map(blobs.map((b) => [`sha256:${sha256Hex(b)}`, b]));
  return {
    async manifest(ref) {
      const bytes = tags[ref] ?? byDigest.get(ref);
      if (!bytes) throw new Error(`no ${ref}`);
      return { bytes, mediaType: JSON.parse(Buffer.from(bytes).toString()).mediaType ?? "" };
    },
    async blob(digest) {
      return byDigest.get(digest)!;
    },
  };
}

test("an index around the image: Istio resolves linux/amd64 and compares that child's digest, so pinning the index digest fails", async () => {
  const module = syntheticModule();
  const img = await buildImage(module, META);
  const attestation = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, layers: [] }));
  // What `docker buildx build --push` makes with provenance on: the image and an attestation manifest.
  const index = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      { mediaType: MEDIA_TYPES.manifest, digest: img.manifest.digest, size: img.manifest.size, platform: { os: "linux", architecture: "amd64" } },
      { mediaType: MEDIA_TYPES.manifest, digest: `sha256:${sha256Hex(attestation)}`, size: attestation.length, platform: { os: "unknown", architecture: "unknown" } },
    ],
  }));
  const src = memorySource([img.manifest.bytes, img.config.bytes, img.layer.bytes, attestation, index], { "1.2.3": index });
  const indexDigest = sha256Hex(index);
  await assert.rejects(fetchLikeIstio(src, "1.2.3", indexDigest), new RegExp(`checksum ${img.manifest.digest.slice(7)}, which does not match: ${indexDigest}`));
  const got = await fetchLikeIstio(src, "1.2.3", img.manifest.digest.slice(7));
  assert.deepEqual(got.module, module);
});

test("`oras push` with its defaults (one plain tar layer) is refused by both of Istio's OCI rules", async () => {
  const layer = await tarArchive([{ name: "plugin.wasm", bytes: syntheticModule() }]);
  const config = new TextEncoder().encode("{}");
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: "application/vnd.oci.empty.v1+json", digest: `sha256:${sha256Hex(config)}`, size: 2 },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${sha256Hex(layer)}`, size: layer.length }],
  }));
  await assert.rejects(
    fetchLikeIstio(memorySource([manifest, config, layer], { v1: manifest }), "v1"),
    /could not parse as compat variant: invalid media type application\/vnd\.oci\.image\.layer\.v1\.tar \(expect application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip\); could not parse as oci variant: number of layers must be 2 but got 1/,
  );
  // gzip() is what the layer uses; the same tar gzipped is the compat variant Istio accepts.
  const gz = gzip(layer);
  const good = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: `sha256:${sha256Hex(config)}`, size: 2 },
    layers: [{ mediaType: MEDIA_TYPES.layer, digest: `sha256:${sha256Hex(gz)}`, size: gz.length }],
  }));
  assert.equal((await fetchLikeIstio(memorySource([good, config, gz], { v1: good }), "v1")).variant, "oci-compat");
});

test("mesh-filters package prints the manifest digest as sha256:<hex> and as the module.sha256 the mesh input takes", async () => {
  const out = tmp("cli");
  try {
    const first = await runCli(["package", "--out", out]);
    assert.equal(first.code, 0, first.err.join("\n"));
    const digest = /^manifest digest {2}(sha256:[a-f0-9]{64})$/m.exec(first.out.join("\n"))?.[1];
    const hex = /^module\.sha256 {4}([a-f0-9]{64})$/m.exec(first.out.join("\n"))?.[1];
    assert.ok(digest && hex, first.out.join("\n"));
    assert.equal(digest, `sha256:${hex}`);
    const layout = join(out, "mesh-filters");
    const tag = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).version;
    assert.ok(existsSync(join(layout, "blobs", "sha256", hex)));
    assert.ok(existsSync(join(out, `mesh-filters-${tag}.tar`)));
    const module = readFileSync(join(REPO_ROOT, "build", "mesh-filters.wasm"));
    assert.deepEqual((await fetchLikeIstio(layoutSource(layout), tag, hex)).module, new Uint8Array(module));

    // The printed form is what the generator's input accepts and turns into a pinned URL.
    const crs = buildPlugins({ module: { image: "registry.example/mesh-filters", sha256: hex }, namespaces: [{ name: "shop", filters: [{ filter: "tracing", pluginConfig: {} }] }] });
    const spec = [...crs.values()][0][0].spec as { url: string; sha256: string };
    assert.equal(spec.url, `oci://registry.example/mesh-filters@sha256:${hex}`);

    const before = filesUnder(out);
    const second = await runCli(["package", "--out", out]);
    assert.deepEqual(second.out, first.out);
    assert.deepEqual(filesUnder(out), before);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("mesh-filters package: usage errors exit 2, an unreadable or non-Wasm module exits 1 and writes nothing", async () => {
  const out = tmp("cli-errors");
  try {
    for (const argv of [["--bogus"], ["--tag", "-x"], ["--tag", ".x"], ["--out"], ["stray"], ["--revision="]]) {
      const r = await runCli(["package", ...argv]);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.err.join("\n")}`);
      assert.match(r.err[0], /^mesh-filters package: /);
    }
    const missing = await runCli(["package", "--out", join(out, "o"), "--module", join(out, "none.wasm")]);
    assert.equal(missing.code, 1);
    assert.match(missing.err.join("\n"), /cannot read the module .*none\.wasm: ENOENT/);
    writeFileSync(join(out, "x.wasm"), "not wasm at all");
    const notWasm = await runCli(["package", "--out", join(out, "o"), "--module", join(out, "x.wasm")]);
    assert.equal(notWasm.code, 1);
    assert.match(notWasm.err.join("\n"), /x\.wasm is not a WebAssembly module/);
    assert.equal(existsSync(join(out, "o")), false);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
