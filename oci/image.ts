// The module as an OCI image that Istio 1.20.8's pilot-agent can fetch, built without Docker and
// byte-for-byte reproducible.
//
// Layout: Istio's "compat" variant with OCI media types (pkg/wasm/imagefetcher.go,
// extractOCIStandardImage): an OCI image manifest whose last (here: only) layer is
// application/vnd.oci.image.layer.v1.tar+gzip holding a file named plugin.wasm. It is an ordinary
// single-platform container image, so skopeo (`copy oci:`), crane (`push <layout dir>`) and oras
// (`cp --from-oci-layout`) copy it to a registry unchanged, keeping the manifest digest. The other
// two variants are worse fits: the Docker one needs Docker's media types (an OCI layout and oras
// speak OCI), and the "Wasm artifact" one needs exactly two layers (the raw module and a config
// pushed as a layer): `oras push` with its defaults makes one layer, which Istio refuses, and
// `oras push` writes a new manifest anyway, so its digest would not be the one printed here.
//
// No index is pushed: the manifest is the image. Istio resolves an index to its linux/amd64 child
// and compares the *child's* digest with WasmPlugin.sha256, so pinning an index digest fails; a
// single manifest has one digest, the one printed here. The config still says linux/amd64 so that
// an index someone builds around this manifest resolves to it.
//
// Reproducibility: every byte is a function of the module and the annotations. Tar headers are
// fixed (ustar, mtime 0, uid/gid 0, no owner names, mode 0644/0755, sorted entries); JSON is
// compact with a fixed key order; gzip is pako 2.1.0 at level 9, whose header has mtime 0 and OS
// byte 3 on every platform and whose deflate output equals reference zlib 1.2.x's. Node's own
// zlib is not used: it is Chromium's fork, its output differs from reference zlib's and changes
// with Node releases (see docs/deployment.md, "Publishing the module").
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import pako from "pako";
import tar from "tar-stream";

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

/** The file name Istio's fetcher looks for in the layer (any directory; it compares the base name). */
export const PLUGIN_FILE = "plugin.wasm";
/** The platform go-containerregistry resolves an index to when Istio's agent fetches (remote's defaultPlatform). */
export const PLATFORM = { os: "linux", architecture: "amd64" } as const;
/** Gzip level of the layer; part of the digest. */
export const GZIP_LEVEL = 9;
/** OCI tag / ref.name: what `oci:<dir>:<tag>` and registries accept. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The standard annotations the manifest carries (org.opencontainers.image.*). */
export interface ImageMetadata {
  /** org.opencontainers.image.version */
  version: string;
  /** org.opencontainers.image.created, RFC 3339; fixed, never the time of packaging. */
  created: string;
  /** org.opencontainers.image.revision (omitted when unknown) */
  revision?: string;
  /** org.opencontainers.image.source (omitted when unknown) */
  source?: string;
}

export interface Blob {
  mediaType: string;
  /** "sha256:<hex>" */
  digest: string;
  size: number;
  bytes: Uint8Array;
}

export interface OciImage {
  /** sha256 hex of the module itself: the WasmPlugin sha256 for https:// URLs. */
  moduleSha256: string;
  moduleSize: number;
  layer: Blob;
  /** sha256 of the uncompressed layer tar (the config's rootfs.diff_ids[0]). */
  diffId: string;
  config: Blob;
  manifest: Blob;
  annotations: Record<string, string>;
}

export const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

function blob(mediaType: string, bytes: Uint8Array): Blob {
  return { mediaType, digest: `sha256:${sha256Hex(bytes)}`, size: bytes.length, bytes };
}

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

/** True for a Wasm binary module (magic and version 1), which is what Envoy loads. */
export function isWasmModule(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d && b[4] === 1 && b[5] === 0 && b[6] === 0 && b[7] === 0;
}

export interface TarEntry {
  name: string;
  /** Absent for a directory. */
  bytes?: Uint8Array;
}

/** An uncompressed ustar archive with fixed headers, entries in the order given. */
export async function tarArchive(entries: TarEntry[]): Promise<Uint8Array> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  const fixed = { mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "" };
  for (const e of entries) {
    if (e.bytes === undefined) pack.entry({ ...fixed, name: e.name, type: "directory", mode: 0o755 });
    else pack.entry({ ...fixed, name: e.name, type: "file", mode: 0o644, size: e.bytes.length }, Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.length));
  }
  pack.finalize();
  await ended;
  return new Uint8Array(Buffer.concat(chunks));
}

/** RFC 1952 gzip with mtime 0, no file name, OS byte 3, at GZIP_LEVEL: the same bytes on every machine. */
export function gzip(b: Uint8Array): Uint8Array {
  return pako.gzip(b, { level: GZIP_LEVEL });
}

/** Sorted, so that the manifest does not depend on how the metadata was assembled. */
export function annotationsOf(meta: ImageMetadata): Record<string, string> {
  const a: Record<string, string> = {
    "org.opencontainers.image.created": meta.created,
    "org.opencontainers.image.version": meta.version,
  };
  if (meta.revision !== undefined) a["org.opencontainers.image.revision"] = meta.revision;
  if (meta.source !== undefined) a["org.opencontainers.image.source"] = meta.source;
  return Object.fromEntries(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : 1)));
}

/** Builds the image: one layer with plugin.wasm, a minimal linux/amd64 config (created shown by `skopeo inspect`), the manifest with annotations. */
export async function buildImage(module: Uint8Array, meta: ImageMetadata): Promise<OciImage> {
  if (!isWasmModule(module)) throw new Error("not a WebAssembly binary module (magic \\0asm, version 1)");
  if (!Number.isFinite(Date.parse(meta.created))) throw new Error(`created: ${JSON.stringify(meta.created)} is not an RFC 3339 time`);
  const layerTar = await tarArchive([{ name: PLUGIN_FILE, bytes: module }]);
  const diffId = `sha256:${sha256Hex(layerTar)}`;
  const layer = blob(MEDIA_TYPES.layer, gzip(layerTar));
  const config = blob(
    MEDIA_TYPES.config,
    json({ created: meta.created, architecture: PLATFORM.architecture, os: PLATFORM.os, config: {}, rootfs: { type: "layers", diff_ids: [diffId] } }),
  );
  const annotations = annotationsOf(meta);
  const descriptor = (b: Blob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = blob(
    MEDIA_TYPES.manifest,
    json({ schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, config: descriptor(config), layers: [descriptor(layer)], annotations }),
  );
  return { moduleSha256: sha256Hex(module), moduleSize: module.length, layer, diffId, config, manifest, annotations };
}

/**
 * The files of an OCI image layout holding this one image under `tag`, in archive order:
 * oci-layout, index.json, then the blobs sorted by digest. index.json is the layout's table of
 * contents (one descriptor, ref.name = tag); it is not pushed: tools push the manifest it names.
 */
export function layoutEntries(img: OciImage, tag: string): TarEntry[] {
  if (!TAG_PATTERN.test(tag)) throw new Error(`${JSON.stringify(tag)} is not a valid OCI tag`);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size, annotations: { "org.opencontainers.image.ref.name": tag } },
    ],
  };
  const blobs = [img.config, img.layer, img.manifest].sort((a, b) => (a.digest < b.digest ? -1 : 1));
  return [
    { name: "oci-layout", bytes: json({ imageLayoutVersion: "1.0.0" }) },
    { name: "index.json", bytes: json(index) },
    { name: "blobs/" },
    { name: "blobs/sha256/" },
    ...blobs.map((b) => ({ name: `blobs/sha256/${b.digest.slice("sha256:".length)}`, bytes: b.bytes })),
  ];
}

export interface WrittenPackage {
  layoutDir: string;
  archive: string;
}

/**
 * Writes `<outDir>/<name>/` (the OCI image layout) and `<outDir>/<name>-<tag>.tar` (the same layout
 * as an oci-archive), replacing earlier ones. Everything is written into a temporary directory
 * beside them first and renamed into place, so a failure leaves no half-written layout.
 */
export async function writePackage(outDir: string, name: string, img: OciImage, tag: string): Promise<WrittenPackage> {
  const entries = layoutEntries(img, tag);
  const archiveBytes = await tarArchive(entries);
  await mkdir(outDir, { recursive: true });
  const tmp = await mkdtemp(join(outDir, `.${name}.tmp-`));
  try {
    const tmpLayout = join(tmp, name);
    for (const e of entries) {
      const path = join(tmpLayout, e.name);
      if (e.bytes === undefined) await mkdir(path, { recursive: true });
      else {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, e.bytes, { mode: 0o644 });
      }
    }
    const tmpArchive = join(tmp, `${name}-${tag}.tar`);
    await writeFile(tmpArchive, archiveBytes, { mode: 0o644 });
    const layoutDir = join(outDir, name);
    const archive = join(outDir, `${name}-${tag}.tar`);
    await rm(layoutDir, { recursive: true, force: true });
    await rename(tmpLayout, layoutDir);
    await rm(archive, { force: true });
    await rename(tmpArchive, archive);
    return { layoutDir, archive };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
