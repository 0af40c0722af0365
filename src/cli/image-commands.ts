// crictl-style image commands: pull, images, inspecti, rmi, imagefsinfo — against any CRI endpoint.

import path from 'node:path';
import { type JsonObject, toJson as protoToJson } from '@bufbuild/protobuf';
import type { CriClient } from '../cri/cri-client.ts';
import { makeClient } from '../cri/grpc-service.ts';
import { Images } from '../cri-api/gen/berth/v1/images_pb.js';
import { type FilesystemUsage, FilesystemUsageSchema, type Image, ImageSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../errors/errors.ts';
import { defineCommand, endpointsFrom, type GlobalValues } from './command.ts';
import { withCri as withCriAt } from './container-cri.ts';
import { formatStructured, int64AsNumbers, type OutputFormat, parseOutputFormat } from './output/documents.ts';
import { humanSize } from './output/human.ts';
import { tabTable } from './output/tabwriter.ts';
import { pullWithProgress } from './pull-progress.ts';

function withCri<T>(globals: GlobalValues, body: (cri: CriClient, timeoutMs: number) => Promise<T>): Promise<T> {
  const ep = endpointsFrom(globals);
  return withCriAt(ep, (cri) => body(cri, ep.timeoutMs));
}

/** An image ID without its algorithm, cut to 13 characters. */
function truncateImageId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 13);
}

/** crictl's image sizes: three significant digits. */
const IMAGE_SIZE_PRECISION = 3;

/** The images table: columns three spaces apart. */
const IMAGES_TABLE = { minWidth: 0, padding: 3 };

/** crictl splits `name:tag` at the last colon after the last slash. */
function splitTag(repoTag: string): [string, string] {
  const i = repoTag.lastIndexOf(':');
  return i > repoTag.lastIndexOf('/') ? [repoTag.slice(0, i), repoTag.slice(i + 1)] : [repoTag, '<none>'];
}

/** Protobuf JSON; for YAML with int64 (size) as a number. */
function imageJson(image: Image, format: OutputFormat): unknown {
  const json = protoToJson(ImageSchema, image) as JsonObject;
  return format === 'yaml' ? int64AsNumbers(ImageSchema, json) : json;
}

const pullCommand = defineCommand({
  name: 'pull',
  summary: 'Pull an image from a registry',
  args: 'IMAGE',
  flags: {
    creds: { type: 'string', value: 'USER[:PASSWORD]', help: 'registry credentials' },
    auth: { type: 'string', value: 'BASE64', help: 'registry auth string' },
    username: { type: 'string', short: 'u', value: 'USER', help: 'registry user name' },
    quiet: { type: 'boolean', short: 'q', help: 'no progress bars' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length !== 1) throw invalidArgument('bad-flag', 'pull needs exactly one image name');
    const auth: { username?: string; password?: string; auth?: string } = {};
    if (values.creds !== undefined) {
      const i = values.creds.indexOf(':');
      auth.username = i < 0 ? values.creds : values.creds.slice(0, i);
      auth.password = i < 0 ? '' : values.creds.slice(i + 1);
    }
    if (values.username !== undefined) auth.username = values.username;
    if (values.auth !== undefined) auth.auth = values.auth;
    const ep = endpointsFrom(globals);
    const imageRef = await pullWithProgress(
      ep,
      positionals[0]!,
      Object.keys(auth).length > 0 ? auth : undefined,
      !values.quiet && process.stderr.isTTY === true,
    );
    process.stdout.write(`Image is up to date for ${imageRef}\n`);
    return 0;
  },
});

const imagesCommand = defineCommand({
  name: 'images',
  aliases: ['img', 'image'],
  summary: 'List images',
  args: '[IMAGE]',
  flags: {
    quiet: { type: 'boolean', short: 'q', help: 'IDs only' },
    digests: { type: 'boolean', help: 'a DIGEST column' },
    'no-trunc': { type: 'boolean', help: 'IDs and digests in full' },
    verbose: { type: 'boolean', short: 'v', help: 'accepted, as by crictl' },
    output: { type: 'string', short: 'o', value: 'FORMAT', help: 'table, json or yaml' },
  },
  async run({ flags: values, args: positionals, globals }) {
    const format = parseOutputFormat(values.output, 'table');
    const images = await withCri(globals, async (cri, timeoutMs) => {
      const filter = positionals[0] ? { image: { image: positionals[0] } } : undefined;
      return (await cri.image.listImages({ filter }, { timeoutMs })).images;
    });
    if (format !== 'table') {
      process.stdout.write(formatStructured({ images: images.map((i) => imageJson(i, format)) }, format));
      return 0;
    }
    if (values.quiet) {
      for (const image of images) process.stdout.write(`${image.id}\n`);
      return 0;
    }
    const header = ['IMAGE', 'TAG', ...(values.digests ? ['DIGEST'] : []), 'IMAGE ID', 'SIZE'];
    const rows: string[][] = [];
    for (const image of images) {
      const id = values['no-trunc'] ? image.id : truncateImageId(image.id);
      const digest = image.repoDigests[0]?.split('@')[1] ?? '<none>';
      const tags = image.repoTags.length > 0 ? image.repoTags : [`${image.repoDigests[0]?.split('@')[0] ?? '<none>'}:<none>`];
      for (const repoTag of tags) {
        const [name, tag] = splitTag(repoTag);
        rows.push([
          name,
          tag,
          ...(values.digests ? [values['no-trunc'] ? digest : truncateImageId(digest)] : []),
          id,
          humanSize(Number(image.size), IMAGE_SIZE_PRECISION),
        ]);
      }
    }
    process.stdout.write(tabTable([header, ...rows], IMAGES_TABLE));
    return 0;
  },
});

const inspectiCommand = defineCommand({
  name: 'inspecti',
  summary: 'Return the status of one or more images',
  args: 'IMAGE...',
  flags: {
    output: { type: 'string', short: 'o', value: 'FORMAT', help: 'json (default) or yaml' },
    quiet: { type: 'boolean', short: 'q', help: 'the status only, without the verbose info' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'inspecti needs an image');
    const format = parseOutputFormat(values.output, 'json');
    let missing = 0;
    await withCri(globals, async (cri, timeoutMs) => {
      for (const ref of positionals) {
        const r = await cri.image.imageStatus({ image: { image: ref }, verbose: !values.quiet }, { timeoutMs });
        if (!r.image) {
          process.stderr.write(`berth inspecti: no such image "${ref}" present\n`);
          missing++;
          continue;
        }
        const info: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r.info)) {
          try {
            info[k] = JSON.parse(v);
          } catch {
            info[k] = v;
          }
        }
        process.stdout.write(formatStructured({ status: imageJson(r.image, format), info }, format === 'table' ? 'json' : format));
      }
    });
    return missing > 0 ? 1 : 0;
  },
});

const rmiCommand = defineCommand({
  name: 'rmi',
  summary: 'Remove one or more images',
  args: 'IMAGE...',
  flags: { all: { type: 'boolean', short: 'a', help: 'all images' } },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length === 0 && !values.all) throw invalidArgument('bad-flag', 'rmi needs an image, or --all');
    let failed = 0;
    await withCri(globals, async (cri, timeoutMs) => {
      const targets = values.all ? (await cri.image.listImages({}, { timeoutMs })).images.map((i) => i.id) : positionals;
      for (const ref of targets) {
        const status = await cri.image.imageStatus({ image: { image: ref } }, { timeoutMs });
        if (!status.image) {
          process.stderr.write(`berth rmi: no such image "${ref}"\n`);
          failed++;
          continue;
        }
        await cri.image.removeImage({ image: { image: status.image.id } }, { timeoutMs });
        const names = status.image.repoTags.length > 0 ? status.image.repoTags : [status.image.id];
        for (const name of names) process.stdout.write(`Deleted: ${name}\n`);
      }
    });
    return failed > 0 ? 1 : 0;
  },
});

function usageJson(usage: FilesystemUsage, format: OutputFormat): JsonObject {
  const json = protoToJson(FilesystemUsageSchema, usage) as JsonObject;
  return format === 'yaml' ? int64AsNumbers(FilesystemUsageSchema, json) : json;
}

const imageFsInfoCommand = defineCommand({
  name: 'imagefsinfo',
  summary: 'Return image filesystem info',
  flags: { output: { type: 'string', short: 'o', value: 'FORMAT', help: 'json (default) or yaml' } },
  async run({ flags: values, globals }) {
    const format = parseOutputFormat(values.output, 'json');
    const r = await withCri(globals, (cri, timeoutMs) => cri.image.imageFsInfo({}, { timeoutMs }));
    const out = {
      status: {
        imageFilesystems: r.imageFilesystems.map((f) => usageJson(f, format)),
        containerFilesystems: r.containerFilesystems.map((f) => usageJson(f, format)),
      },
    };
    process.stdout.write(formatStructured(out, format === 'table' ? 'json' : format));
    return 0;
  },
});

const imageImportCommand = defineCommand({
  name: 'image import',
  summary: 'Import the images of an archive (docker save or OCI layout) on the daemon host',
  args: 'FILE',
  flags: {
    'base-name': { type: 'string', value: 'NAME', help: 'repository for OCI entries named by a tag only (as ctr import --base-name)' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length !== 1) throw invalidArgument('bad-flag', 'image import needs exactly one archive file');
    const ep = endpointsFrom(globals);
    const client = makeClient(Images, ep.image);
    try {
      const r = await client.import(
        { path: path.resolve(positionals[0]!), baseName: values['base-name'] ?? '' },
        { timeoutMs: ep.timeoutMs },
      );
      for (const image of r.images) {
        const names = image.repoTags.length > 0 ? image.repoTags.join(', ') : '(untagged)';
        process.stdout.write(`Imported ${names} as ${image.id}\n`);
      }
    } finally {
      client.close();
    }
    return 0;
  },
});

export const imageCommands = [pullCommand, imagesCommand, imageImportCommand, inspectiCommand, rmiCommand, imageFsInfoCommand];
