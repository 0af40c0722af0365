// Every fuzz target, by name.
import type { FuzzTarget } from '../engine.ts';
import { criConversionTarget } from './cri-conversion.ts';
import { imageSpecTarget } from './image-spec.ts';
import { layerApplyTarget } from './layer-apply.ts';
import { referenceTarget } from './reference.ts';
import { spdyTarget } from './spdy.ts';
import { tarReaderTarget } from './tar-reader.ts';
import { websocketTarget } from './websocket.ts';

export const fuzzTargets: readonly FuzzTarget[] = [
  tarReaderTarget,
  layerApplyTarget,
  referenceTarget,
  imageSpecTarget,
  spdyTarget,
  websocketTarget,
  criConversionTarget,
];
