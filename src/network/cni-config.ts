// Finds the network the node uses: the first CNI config file in conf_dir, by file name, as the CNI
// libraries (libcni.ConfFiles) and the kubelet's runtimes pick it.

import { constants } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition } from '../errors/errors.ts';

export interface CniPluginConf {
  type: string;
  [key: string]: unknown;
}

export interface CniNetworkConfList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConf[];
  /** The file it came from. */
  file: string;
  /** The raw JSON, for handing to plugins. */
  raw: Record<string, unknown>;
}

const EXTENSIONS = ['.conflist', '.conf', '.json'];

export async function loadDefaultNetwork(confDir: string): Promise<CniNetworkConfList> {
  let names: string[];
  try {
    names = await readdir(confDir);
  } catch {
    throw failedPrecondition('cni-config-missing', `no CNI network config: cannot read ${confDir}`);
  }
  const files = names.filter((n) => EXTENSIONS.includes(path.extname(n))).sort();
  const problems: string[] = [];
  for (const name of files) {
    const file = path.join(confDir, name);
    try {
      return parseNetworkConfig(JSON.parse(await readFile(file, 'utf8')), file);
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
    }
  }
  const detail = problems.length > 0 ? `: ${problems.join('; ')}` : '';
  throw failedPrecondition('cni-config-missing', `no valid CNI network config in ${confDir}${detail}`);
}

/** A .conflist as it is, or a single-plugin .conf turned into a list. */
export function parseNetworkConfig(doc: Record<string, unknown>, file: string): CniNetworkConfList {
  if (typeof doc.name !== 'string' || doc.name === '') throw failedPrecondition('cni-config-invalid', 'missing "name"');
  if (Array.isArray(doc.plugins)) {
    const plugins = doc.plugins as CniPluginConf[];
    if (plugins.length === 0 || plugins.some((p) => typeof p?.type !== 'string'))
      throw failedPrecondition('cni-config-invalid', 'every plugin needs a "type"');
    return { cniVersion: String(doc.cniVersion ?? '0.4.0'), name: doc.name, plugins, file, raw: doc };
  }
  if (typeof doc.type !== 'string') throw failedPrecondition('cni-config-invalid', 'missing "type" or "plugins"');
  const { cniVersion = '0.4.0', name, ...plugin } = doc;
  const raw = { cniVersion, name, plugins: [plugin] };
  return { cniVersion: String(cniVersion), name, plugins: [plugin as CniPluginConf], file, raw };
}

/** The plugin binaries that none of `binDirs` holds. */
export async function missingPlugins(net: CniNetworkConfList, binDirs: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const { type } of net.plugins) {
    let found = false;
    for (const dir of binDirs) {
      try {
        await access(path.join(dir, type), constants.X_OK);
        found = true;
        break;
      } catch {}
    }
    if (!found) missing.push(type);
  }
  return missing;
}
