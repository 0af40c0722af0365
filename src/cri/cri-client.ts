// A CRI client for any endpoint: berth, containerd, CRI-O.
import { ImageService, RuntimeService } from '../cri-api/gen/runtime/v1/api_pb.js';
import { makeClient, type ServiceClient } from './grpc-service.ts';

export type RuntimeClient = ServiceClient<typeof RuntimeService.method>;
export type ImageClient = ServiceClient<typeof ImageService.method>;

export interface CriClient {
  runtime: RuntimeClient;
  image: ImageClient;
  close(): void;
}

export function connectCri(runtimeEndpoint: string, imageEndpoint = runtimeEndpoint): CriClient {
  const runtime = makeClient(RuntimeService, runtimeEndpoint);
  const image = makeClient(ImageService, imageEndpoint);
  return {
    runtime,
    image,
    close() {
      runtime.close();
      image.close();
    },
  };
}
