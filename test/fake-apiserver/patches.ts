// PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902), applied by libraries.
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import jsonMergePatch from 'json-merge-patch';
import { ApiError } from './api-error.ts';

const { applyPatch, JsonPatchError } = fastJsonPatch;

import { type ApiObject, clone } from './api-object.ts';

const MERGE = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';

export function applyPatchBody(old: ApiObject, contentType: string, patch: unknown): ApiObject {
  const media = contentType.split(';')[0]!.trim();
  if (media === MERGE) {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
      throw new ApiError(400, 'BadRequest', 'a merge patch must be a JSON object');
    return jsonMergePatch.apply(clone(old), patch) as ApiObject;
  }
  if (media === JSON_PATCH) {
    if (!Array.isArray(patch)) throw new ApiError(400, 'BadRequest', 'a JSON patch must be a list of operations');
    try {
      return applyPatch(clone(old), patch as Operation[], true, false).newDocument;
    } catch (e) {
      if (e instanceof JsonPatchError) {
        const failed = e.name === 'TEST_OPERATION_FAILED';
        throw new ApiError(422, 'Invalid', failed ? `testing value ${(e.operation as Operation).path} failed` : e.message);
      }
      throw e;
    }
  }
  throw new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE}`,
  );
}
