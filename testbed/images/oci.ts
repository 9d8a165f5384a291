// Images without Docker: layers as plain tar files made from directories (`tar`, with
// owners, order and times fixed so that the same files give the same digest), an OCI
// config and manifest for each image, and a push to a registry by the distribution API
// (HEAD, a cross-repository mount, or POST + PUT per blob; PUT the manifest), which is
// how the real node's containerd then pulls them, as in a cluster.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

const layerType = 'application/vnd.oci.image.layer.v1.tar';
const configType = 'application/vnd.oci.image.config.v1+json';
const manifestType = 'application/vnd.oci.image.manifest.v1+json';

export interface Blob {
  digest: string;
  size: number;
  /** Where the blob's bytes are. */
  file: string;
}

/** A file's SHA-256, read in pieces (a layer is hundreds of MB). */
function sha256(file: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** A directory of blobs by digest (the OCI layout's `blobs/sha256/`). */
export class BlobStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, 'sha256'), { recursive: true });
  }

  #place(tmp: string): Blob {
    const hex = sha256(tmp);
    const file = join(this.dir, 'sha256', hex);
    if (existsSync(file)) rmSync(tmp);
    else renameSync(tmp, file);
    return { digest: `sha256:${hex}`, size: statSync(file).size, file };
  }

  /** A layer made of a directory's files, owned by root. */
  layer(root: string): Blob {
    const tmp = join(this.dir, `layer.${process.pid}.tar`);
    execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=posix',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', root, '-cf', tmp, '.']);
    return this.#place(tmp);
  }

  json(value: unknown): Blob {
    const tmp = join(this.dir, `json.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(value));
    return this.#place(tmp);
  }
}

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workdir?: string;
}

/** An image ready to push: its reference as manifests name it, its blobs, its manifest. */
export interface Image {
  /** The name a Pod spec uses, e.g. `gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2`. */
  ref: string;
  layers: Blob[];
  config: Blob;
  manifest: Blob;
}

export function image(store: BlobStore, ref: string, layers: Blob[], config: ImageConfig): Image {
  const cfg = store.json({
    architecture: 'amd64', os: 'linux',
    config: {
      Env: config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
      ...(config.cmd ? { Cmd: config.cmd } : {}),
      ...(config.workdir ? { WorkingDir: config.workdir } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  });
  const manifest = store.json({
    schemaVersion: 2, mediaType: manifestType,
    config: { mediaType: configType, digest: cfg.digest, size: cfg.size },
    layers: layers.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.size })),
  });
  return { ref, layers, config: cfg, manifest };
}

/** `docker.io/library/python:3` → the registry's repository `library/python` and tag `3`; a mirror serves the path without the host. */
export function repositoryAndTag(ref: string): { repository: string; tag: string } {
  let name = ref;
  let tag = 'latest';
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  const parts = name.split('/');
  const host = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!) ? parts.shift()! : 'docker.io';
  if (host === 'docker.io' && parts.length === 1) parts.unshift('library');
  return { repository: parts.join('/'), tag };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

function send(url: string, method: string, headers: Record<string, string | number> = {}, body?: Blob | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else createReadStream(body.file).pipe(req);
  });
}

/** Pushes an image to the registry at `base` (e.g. http://127.0.0.1:5000); blobs it already holds are not sent again. */
export async function push(base: string, img: Image, pushed: Map<string, string>): Promise<void> {
  const { repository, tag } = repositoryAndTag(img.ref);
  for (const blob of [...img.layers, img.config]) {
    if ((await send(`${base}/v2/${repository}/blobs/${blob.digest}`, 'HEAD')).status === 200) continue;
    const from = pushed.get(blob.digest);
    const started = await send(`${base}/v2/${repository}/blobs/uploads/${from ? `?mount=${blob.digest}&from=${from}` : ''}`, 'POST', { 'Content-Length': 0 });
    if (started.status === 201) continue; // mounted from another repository
    if (started.status !== 202) throw new Error(`registry: POST upload for ${repository} answered ${started.status}`);
    const location = new URL(String(started.headers.location), base);
    location.searchParams.set('digest', blob.digest);
    const put = await send(location.href, 'PUT', { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.size }, blob);
    if (put.status !== 201) throw new Error(`registry: PUT ${blob.digest} for ${repository} answered ${put.status}`);
    pushed.set(blob.digest, repository);
  }
  const body = readFileSync(img.manifest.file);
  const put = await send(`${base}/v2/${repository}/manifests/${tag}`, 'PUT', { 'Content-Type': manifestType, 'Content-Length': body.length }, body);
  if (put.status !== 201) throw new Error(`registry: PUT manifest ${repository}:${tag} answered ${put.status}`);
}
