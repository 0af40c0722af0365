// Providers are chosen by name: a built-in name (`cri`), or a module — a path (absolute, or
// relative to the working directory) or an installed package — that exports a ProviderFactory as
// `createProvider` or as its default export.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PodProvider, ProviderContext, ProviderFactory } from '../agent/provider.ts';
import { invalidArgument } from '../errors/errors.ts';

interface ProviderModule {
  createProvider?: unknown;
  default?: unknown;
}

const BUILTIN: Record<string, () => Promise<ProviderModule>> = {
  cri: () => import('./cri/index.ts'),
};

export const BUILTIN_PROVIDERS = Object.keys(BUILTIN);

const REQUIRED_METHODS = ['createPod', 'updatePod', 'deletePod', 'getPod', 'getPodStatus', 'getPods'] as const;

async function importModule(name: string): Promise<ProviderModule> {
  const builtin = BUILTIN[name];
  if (builtin !== undefined) return builtin();
  const isPath = name.startsWith('.') || path.isAbsolute(name);
  const specifier = isPath ? pathToFileURL(path.resolve(name)).href : name;
  try {
    return (await import(specifier)) as ProviderModule;
  } catch (e) {
    throw invalidArgument(
      'unknown-provider',
      `provider "${name}" is neither built in (${BUILTIN_PROVIDERS.join(', ')}) nor a module that loads: ${(e as Error).message}`,
      {
        cause: e,
        fields: { provider: name },
      },
    );
  }
}

export async function loadProvider(name: string, context: ProviderContext): Promise<PodProvider> {
  const module = await importModule(name);
  const factory = module.createProvider ?? module.default;
  if (typeof factory !== 'function') {
    throw invalidArgument('bad-provider', `provider module "${name}" exports no createProvider function (nor a default one)`, {
      fields: { provider: name },
    });
  }
  const provider = await (factory as ProviderFactory)(context);
  const missing = REQUIRED_METHODS.filter((m) => typeof (provider as unknown as Record<string, unknown>)?.[m] !== 'function');
  if (missing.length > 0) {
    throw invalidArgument('bad-provider', `provider "${name}" lacks ${missing.join(', ')}`, { fields: { provider: name, missing } });
  }
  return provider;
}
