// berth version, berth info: what the runtime says of itself.
import { toJson } from '@bufbuild/protobuf';
import { connectCri } from '../cri/cri-client.ts';
import { RuntimeHandlerFeaturesSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { defineCommand, endpointsFrom } from './command.ts';
import { formatStructured, parseOutputFormat } from './output/documents.ts';

const versionCommand = defineCommand({
  name: 'version',
  summary: 'Show the runtime version information',
  flags: {},
  async run({ globals }) {
    const ep = endpointsFrom(globals);
    const cri = connectCri(ep.runtime, ep.image);
    try {
      const v = await cri.runtime.version({ version: 'v1' }, { timeoutMs: ep.timeoutMs });
      process.stdout.write(
        `Version:  ${v.version}\nRuntimeName:  ${v.runtimeName}\nRuntimeVersion:  ${v.runtimeVersion}\nRuntimeApiVersion:  ${v.runtimeApiVersion}\n`,
      );
    } finally {
      cri.close();
    }
    return 0;
  },
});

const infoCommand = defineCommand({
  name: 'info',
  summary: 'Display information of the container runtime',
  flags: { output: { type: 'string', short: 'o', value: 'FORMAT', help: 'json (default) or yaml' } },
  async run({ flags: values, globals }) {
    const format = parseOutputFormat(values.output, 'json');
    const ep = endpointsFrom(globals);
    const cri = connectCri(ep.runtime, ep.image);
    try {
      const s = await cri.runtime.status({ verbose: true }, { timeoutMs: ep.timeoutMs });
      const out: Record<string, unknown> = {
        status: {
          conditions: (s.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
        },
        runtimeHandlers: s.runtimeHandlers.map((h) => ({
          name: h.name,
          features: h.features === undefined ? null : toJson(RuntimeHandlerFeaturesSchema, h.features, { alwaysEmitImplicit: true }),
        })),
      };
      for (const [k, v] of Object.entries(s.info)) {
        try {
          out[k] = JSON.parse(v);
        } catch {
          out[k] = v;
        }
      }
      process.stdout.write(formatStructured(out, format === 'table' ? 'json' : format));
    } finally {
      cri.close();
    }
    return 0;
  },
});

export const infoCommands = [versionCommand, infoCommand];
