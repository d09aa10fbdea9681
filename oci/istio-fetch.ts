// How Istio 1.20.8's pilot-agent turns an oci:// image into the bytes it hands Envoy, followed step
// by step so that a test can tell whether an image we publish would load:
//   pkg/wasm/imagefetcher.go PrepareFetch: remote.Get(ref) → desc.Image() (go-containerregistry
//     v0.16.1: an index or manifest list resolves to its first linux/amd64 child; a child without a
//     platform counts as linux/amd64) → actualDigest = that image manifest's sha256;
//   pkg/wasm/cache.go getOrFetch: a WasmPlugin sha256 (or the url's @sha256:) must equal
//     actualDigest, else "module downloaded from … has checksum …, which does not match";
//   the binary: manifest mediaType Docker schema 2 → the last layer must be a Docker tar+gzip layer
//     holding plugin.wasm; otherwise the last layer as an OCI tar+gzip layer holding plugin.wasm
//     ("compat"), else exactly two layers, one of media type
//     application/vnd.module.wasm.content.layer.v1+wasm whose blob is the raw module ("oci");
//   isValidWasmBinary: at least 8 bytes starting with \0asm.
import { gunzipSync } from "node:zlib";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { sha256Hex } from "./image.ts";

const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm";
const PLUGIN_FILE = "plugin.wasm";
/** imagefetcher.go reads at most 256 MiB of the uncompressed layer. */
const MAX_TAR_BYTES = 256 * 1024 * 1024;

/** The media types go-containerregistry's remote.Get accepts, as the Accept header it sends. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", ");

export interface FetchedManifest {
  bytes: Uint8Array;
  /** Content-Type as served (go-containerregistry's Descriptor.MediaType). */
  mediaType: string;
}

/** Where the image is read from: a registry, or an OCI image layout on disk. */
export interface ImageSource {
  /** A tag or "sha256:<hex>". */
  manifest(reference: string): Promise<FetchedManifest>;
  blob(digest: string): Promise<Uint8Array>;
}

export type Variant = "docker" | "oci-compat" | "oci-artifact";

export interface IstioFetch {
  /** Istio's actualDigest: the hex sha256 of the image manifest it resolved (what WasmPlugin.sha256 must be). */
  digest: string;
  variant: Variant;
  module: Uint8Array;
}

export class IstioFetchError extends Error {}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
}

function parse(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new IstioFetchError(`${what} is not a JSON object`);
}

/** The plugin.wasm of a tar.gz layer: the first entry whose base name is plugin.wasm (imagefetcher.go extractWasmPluginBinary). */
export async function pluginFromTarGz(gz: Uint8Array): Promise<Uint8Array> {
  let tarBytes: Buffer;
  try {
    tarBytes = gunzipSync(gz);
  } catch (e) {
    throw new IstioFetchError(`failed to parse layer as tar.gz: ${(e as Error).message}`);
  }
  if (tarBytes.length > MAX_TAR_BYTES) tarBytes = tarBytes.subarray(0, MAX_TAR_BYTES);
  const extract = tar.extract();
  let found: Uint8Array | undefined;
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c) => chunks.push(c as Buffer));
      stream.on("end", () => {
        const base = header.name.replace(/\/+$/, "").split("/").pop();
        if (found === undefined && base === PLUGIN_FILE) found = new Uint8Array(Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    extract.on("finish", () => resolve());
    extract.on("error", (e: Error) => reject(new IstioFetchError(`could not read the layer's tar: ${e.message}`)));
  });
  Readable.from([tarBytes]).pipe(extract);
  await done;
  if (found === undefined) throw new IstioFetchError(`${PLUGIN_FILE} not found in the archive`);
  return found;
}

/** Fetches `reference` from `source` as Istio 1.20.8's agent does; checks `expectedSha256` (hex) like cache.go when given. */
export async function fetchLikeIstio(source: ImageSource, reference: string, expectedSha256?: string): Promise<IstioFetch> {
  let m = await source.manifest(reference);
  let doc = parse(m.bytes, `manifest ${reference}`);
  const type = m.mediaType || (typeof doc.mediaType === "string" ? doc.mediaType : "");
  if (type === OCI_INDEX || type === DOCKER_LIST) {
    const children = Array.isArray(doc.manifests) ? (doc.manifests as Descriptor[]) : [];
    const child = children.find((c) => (c.platform?.os ?? "linux") === "linux" && (c.platform?.architecture ?? "amd64") === "amd64");
    if (!child) throw new IstioFetchError(`could not fetch image: no child with platform amd64/linux in index ${reference}`);
    m = await source.manifest(child.digest);
    doc = parse(m.bytes, `manifest ${child.digest}`);
  }
  const digest = sha256Hex(m.bytes);
  if (expectedSha256 !== undefined && expectedSha256 !== digest) {
    throw new IstioFetchError(`module downloaded from ${reference} has checksum ${digest}, which does not match: ${expectedSha256}`);
  }
  const layers = Array.isArray(doc.layers) ? (doc.layers as Descriptor[]) : [];
  const last = layers[layers.length - 1];

  let module: Uint8Array;
  let variant: Variant;
  if (doc.mediaType === DOCKER_MANIFEST) {
    if (!last) throw new IstioFetchError("could not extract Wasm file from the image as Docker container number of layers must be greater than zero");
    if (last.mediaType !== DOCKER_LAYER) throw new IstioFetchError(`could not extract Wasm file from the image as Docker container invalid media type ${last.mediaType} (expect ${DOCKER_LAYER})`);
    module = await pluginFromTarGz(await source.blob(last.digest));
    variant = "docker";
  } else {
    let compatError: string;
    if (!last) compatError = "number of layers must be greater than zero";
    else if (last.mediaType !== OCI_LAYER) compatError = `invalid media type ${last.mediaType} (expect ${OCI_LAYER})`;
    else {
      try {
        return finish(digest, "oci-compat", await pluginFromTarGz(await source.blob(last.digest)));
      } catch (e) {
        compatError = (e as Error).message;
      }
    }
    let ociError: string;
    const wasm = layers.find((l) => l.mediaType === WASM_LAYER);
    if (layers.length !== 2) ociError = `number of layers must be 2 but got ${layers.length}`;
    else if (!wasm) ociError = `could not find the layer of type ${WASM_LAYER}`;
    else return finish(digest, "oci-artifact", await source.blob(wasm.digest));
    throw new IstioFetchError(
      `the given image is in invalid format as an OCI image: could not parse as compat variant: ${compatError}; could not parse as oci variant: ${ociError}`,
    );
  }
  return finish(digest, variant, module);
}

function finish(digest: string, variant: Variant, module: Uint8Array): IstioFetch {
  if (!(module.length >= 8 && module[0] === 0 && module[1] === 0x61 && module[2] === 0x73 && module[3] === 0x6d)) {
    throw new IstioFetchError("fetched Wasm binary is invalid");
  }
  return { digest, variant, module };
}

/** An OCI image layout directory as an image source; a tag resolves through index.json's ref.name. */
export function layoutSource(dir: string): ImageSource {
  const blobPath = (digest: string) => {
    const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
    if (!m) throw new IstioFetchError(`unsupported digest ${JSON.stringify(digest)}`);
    return join(dir, "blobs", "sha256", m[1]);
  };
  const blob = async (digest: string) => {
    const b = new Uint8Array(await readFile(blobPath(digest)));
    if (`sha256:${sha256Hex(b)}` !== digest) throw new IstioFetchError(`blob ${digest} does not match its digest`);
    return b;
  };
  return {
    blob,
    async manifest(reference) {
      let desc: Descriptor | undefined;
      if (reference.startsWith("sha256:")) desc = { digest: reference };
      else {
        const index = parse(await readFile(join(dir, "index.json")), "index.json");
        const list = Array.isArray(index.manifests) ? (index.manifests as (Descriptor & { annotations?: Record<string, string> })[]) : [];
        desc = list.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === reference);
        if (!desc) throw new IstioFetchError(`no manifest tagged ${JSON.stringify(reference)} in ${dir}/index.json`);
      }
      const bytes = await blob(desc.digest);
      const mediaType = desc.mediaType ?? (parse(bytes, desc.digest).mediaType as string | undefined) ?? "";
      return { bytes, mediaType };
    },
  };
}

/** A registry's HTTP API (distribution spec v2), anonymous, as the agent sees it. */
export function registrySource(baseUrl: string, repository: string): ImageSource & { lastDigestHeader: string | undefined } {
  const src = {
    lastDigestHeader: undefined as string | undefined,
    async manifest(reference: string) {
      const res = await fetch(`${baseUrl}/v2/${repository}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } });
      if (!res.ok) throw new IstioFetchError(`could not fetch manifest: GET ${res.url}: ${res.status} ${await res.text()}`);
      src.lastDigestHeader = res.headers.get("docker-content-digest") ?? undefined;
      return { bytes: new Uint8Array(await res.arrayBuffer()), mediaType: res.headers.get("content-type") ?? "" };
    },
    async blob(digest: string) {
      const res = await fetch(`${baseUrl}/v2/${repository}/blobs/${digest}`);
      if (!res.ok) throw new IstioFetchError(`could not fetch blob ${digest}: ${res.status}`);
      const b = new Uint8Array(await res.arrayBuffer());
      if (`sha256:${sha256Hex(b)}` !== digest) throw new IstioFetchError(`blob ${digest} does not match its digest`);
      return b;
    },
  };
  return src;
}
