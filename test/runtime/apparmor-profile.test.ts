// The default AppArmor profile compiled by the real apparmor_parser (Debian's apparmor) without
// loading it (-Q: skip the kernel load; -K: no cache), so that it runs on kernels without AppArmor,
// and the loader's answers: loaded once, not again when the kernel has it, FAILED_PRECONDITION
// when it cannot load.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isBerthError } from '../../src/errors/errors.ts';
import { AppArmorProfileLoader, profileData, renderProfile, runParser } from '../../src/runtime/apparmor-profile.ts';
import { DEFAULT_APPARMOR_PROFILE } from '../../src/runtime/spec/apparmor.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

const COMPILE_ONLY = ['-Q', '-K'];

describe('the default AppArmor profile', () => {
  let dir: TempDir;
  before(async () => {
    dir = await makeTempDir('berth-apparmor-');
  });
  after(() => dir.remove());

  test("compiles with this host's includes (tunables/global, abstractions/base)", async () => {
    const data = await profileData(DEFAULT_APPARMOR_PROFILE);
    assert.deepEqual(data.imports, ['#include <tunables/global>']);
    assert.deepEqual(data.innerImports, ['#include <abstractions/base>']);
    const text = renderProfile(data);
    assert.match(text, /^profile berth-default flags=\(attach_disconnected,mediate_deleted\) \{$/m);
    assert.match(text, /^ {2}signal \(send,receive\) peer=berth-default,$/m);
    assert.match(text, /^ {2}deny mount,$/m);
    await runParser(text, COMPILE_ONLY);
  });

  test('compiles without any includes (@{PROC} set by hand)', async () => {
    const data = await profileData(DEFAULT_APPARMOR_PROFILE, path.join(dir.path, 'no-apparmor.d'));
    assert.deepEqual([data.imports, data.innerImports], [['@{PROC}=/proc/'], []]);
    await runParser(renderProfile(data), COMPILE_ONLY);
  });

  test('the compile check can fail: a broken profile is refused with the parser’s message', async () => {
    await assert.rejects(runParser('profile broken { not-a-rule, }\n', COMPILE_ONLY), /apparmor_parser -Q -K exited 1: .*broken|syntax/is);
  });

  test('the loader loads once, skips a profile the kernel has, and fails with FAILED_PRECONDITION', async () => {
    const profiles = path.join(dir.path, 'profiles');
    await writeFile(profiles, 'other (enforce)\n');
    const loader = new AppArmorProfileLoader({
      name: DEFAULT_APPARMOR_PROFILE,
      logger: silentLogger(),
      loadArgs: COMPILE_ONLY,
      profilesFile: profiles,
    });
    await Promise.all([loader.ensureLoaded(), loader.ensureLoaded()]);

    await writeFile(profiles, `${DEFAULT_APPARMOR_PROFILE} (enforce)\n`);
    const present = new AppArmorProfileLoader({
      name: DEFAULT_APPARMOR_PROFILE,
      logger: silentLogger(),
      parser: '/nonexistent/apparmor_parser',
      profilesFile: profiles,
    });
    await present.ensureLoaded();

    const missing = path.join(dir.path, 'none');
    await mkdir(missing);
    for (const [parser, message] of [
      ['/nonexistent/apparmor_parser', /cannot load the AppArmor profile berth-default: apparmor_parser is not installed/],
      ['/bin/false', /cannot load the AppArmor profile berth-default: apparmor_parser -Kr exited 1/],
    ] as const) {
      const failing = new AppArmorProfileLoader({
        name: DEFAULT_APPARMOR_PROFILE,
        logger: silentLogger(),
        parser,
        profilesFile: path.join(missing, 'profiles'),
      });
      for (let attempt = 0; attempt < 2; attempt++) {
        const error = await failing.ensureLoaded().then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(isBerthError(error), String(error));
        assert.equal(error.kind, 'failed-precondition');
        assert.equal(error.code, 'apparmor-profile-load');
        assert.match(error.message, message);
      }
    }
  });
});
