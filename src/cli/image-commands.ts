// crictl-style image commands: pull, images, inspecti, rmi, imagefsinfo — against any CRI endpoint.

import path from 'node:path';
import { toJson as protoToJson } from '@bufbuild/protobuf';
import { type CriClient, connectCri } from '../cri/cri-client.ts';
import { makeClient } from '../cri/grpc-service.ts';
import { Images } from '../cri-api/gen/berth/v1/images_pb.js';
import { FilesystemUsageSchema, type Image, ImageSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../errors/errors.ts';
import { type Command, endpointsFrom, parseCommandArgs } from './command.ts';
import { formatStructured, formatTable, humanSize, parseOutputFormat } from './output.ts';
import { pullWithProgress } from './pull-progress.ts';

async function withCri<T>(
  values: Parameters<typeof endpointsFrom>[0],
  body: (cri: CriClient, timeoutMs: number) => Promise<T>,
): Promise<T> {
  const ep = endpointsFrom(values);
  const cri = connectCri(ep.runtime, ep.image);
  try {
    return await body(cri, ep.timeoutMs);
  } finally {
    cri.close();
  }
}

function truncateId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 13);
}

/** crictl splits `name:tag` at the last colon after the last slash. */
function splitTag(repoTag: string): [string, string] {
  const i = repoTag.lastIndexOf(':');
  return i > repoTag.lastIndexOf('/') ? [repoTag.slice(0, i), repoTag.slice(i + 1)] : [repoTag, '<none>'];
}

function imageJson(image: Image): unknown {
  return protoToJson(ImageSchema, image);
}

const pullCommand: Command = {
  name: 'pull',
  summary: 'Pull an image from a registry',
  usage: 'pull [--creds USER[:PASSWORD]] [--auth BASE64] [--quiet] IMAGE',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      creds: { type: 'string' },
      auth: { type: 'string' },
      username: { type: 'string', short: 'u' },
      quiet: { type: 'boolean', short: 'q' },
    });
    if (positionals.length !== 1) throw invalidArgument('bad-flag', 'pull needs exactly one image name');
    const auth: { username?: string; password?: string; auth?: string } = {};
    if (values.creds !== undefined) {
      const i = values.creds.indexOf(':');
      auth.username = i < 0 ? values.creds : values.creds.slice(0, i);
      auth.password = i < 0 ? '' : values.creds.slice(i + 1);
    }
    if (values.username !== undefined) auth.username = values.username;
    if (values.auth !== undefined) auth.auth = values.auth;
    const ep = endpointsFrom(values);
    const imageRef = await pullWithProgress(
      ep,
      positionals[0]!,
      Object.keys(auth).length > 0 ? auth : undefined,
      !values.quiet && process.stderr.isTTY === true,
    );
    process.stdout.write(`Image is up to date for ${imageRef}\n`);
    return 0;
  },
};

const imagesCommand: Command = {
  name: 'images',
  aliases: ['img'],
  summary: 'List images',
  usage: 'images [-q] [--digests] [--no-trunc] [-o table|json|yaml] [IMAGE]',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      quiet: { type: 'boolean', short: 'q' },
      digests: { type: 'boolean' },
      'no-trunc': { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      output: { type: 'string', short: 'o' },
    });
    const format = parseOutputFormat(values.output);
    const images = await withCri(values, async (cri, timeoutMs) => {
      const filter = positionals[0] ? { image: { image: positionals[0] } } : undefined;
      return (await cri.image.listImages({ filter }, { timeoutMs })).images;
    });
    if (format !== 'table') {
      process.stdout.write(formatStructured({ images: images.map(imageJson) }, format));
      return 0;
    }
    if (values.quiet) {
      for (const image of images) process.stdout.write(`${image.id}\n`);
      return 0;
    }
    const header = ['IMAGE', 'TAG', ...(values.digests ? ['DIGEST'] : []), 'IMAGE ID', 'SIZE'];
    const rows: string[][] = [];
    for (const image of images) {
      const id = values['no-trunc'] ? image.id : truncateId(image.id);
      const digest = image.repoDigests[0]?.split('@')[1] ?? '<none>';
      const tags = image.repoTags.length > 0 ? image.repoTags : [`${image.repoDigests[0]?.split('@')[0] ?? '<none>'}:<none>`];
      for (const repoTag of tags) {
        const [name, tag] = splitTag(repoTag);
        rows.push([
          name,
          tag,
          ...(values.digests ? [values['no-trunc'] ? digest : truncateId(digest)] : []),
          id,
          humanSize(Number(image.size)),
        ]);
      }
    }
    process.stdout.write(formatTable(header, rows));
    return 0;
  },
};

const inspectiCommand: Command = {
  name: 'inspecti',
  summary: 'Return the status of one or more images',
  usage: 'inspecti [-o json|yaml] IMAGE...',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      output: { type: 'string', short: 'o' },
      quiet: { type: 'boolean', short: 'q' },
    });
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'inspecti needs an image');
    const format = parseOutputFormat(values.output, 'json');
    let missing = 0;
    await withCri(values, async (cri, timeoutMs) => {
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
        process.stdout.write(formatStructured({ status: imageJson(r.image), info }, format === 'table' ? 'json' : format));
      }
    });
    return missing > 0 ? 1 : 0;
  },
};

const rmiCommand: Command = {
  name: 'rmi',
  summary: 'Remove one or more images',
  usage: 'rmi [-a] IMAGE...',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { all: { type: 'boolean', short: 'a' } });
    if (positionals.length === 0 && !values.all) throw invalidArgument('bad-flag', 'rmi needs an image, or --all');
    let failed = 0;
    await withCri(values, async (cri, timeoutMs) => {
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
};

const imageFsInfoCommand: Command = {
  name: 'imagefsinfo',
  summary: 'Return image filesystem info',
  usage: 'imagefsinfo [-o json|yaml]',
  async run(argv) {
    const { values } = parseCommandArgs(argv, { output: { type: 'string', short: 'o' } });
    const format = parseOutputFormat(values.output, 'json');
    const r = await withCri(values, (cri, timeoutMs) => cri.image.imageFsInfo({}, { timeoutMs }));
    const out = {
      status: {
        imageFilesystems: r.imageFilesystems.map((f) => protoToJson(FilesystemUsageSchema, f)),
        containerFilesystems: r.containerFilesystems.map((f) => protoToJson(FilesystemUsageSchema, f)),
      },
    };
    process.stdout.write(formatStructured(out, format === 'table' ? 'json' : format));
    return 0;
  },
};

const imageCommand: Command = {
  name: 'image',
  summary: 'Manage images: "image import FILE" loads an archive; "image" alone lists images',
  usage: 'image import [--base-name NAME] FILE | image [images flags]',
  async run(argv) {
    if (argv[0] !== 'import') return imagesCommand.run(argv);
    const { values, positionals } = parseCommandArgs(argv.slice(1), { 'base-name': { type: 'string' } });
    if (positionals.length !== 1) throw invalidArgument('bad-flag', 'image import needs exactly one archive file');
    const ep = endpointsFrom(values);
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
};

export const imageCommands: Command[] = [pullCommand, imagesCommand, imageCommand, inspectiCommand, rmiCommand, imageFsInfoCommand];
