// What kind of failure an error is; src/cri/grpc-status.ts maps each kind to its gRPC status.
export type ErrorKind =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'failed-precondition'
  | 'deadline-exceeded'
  | 'unavailable'
  | 'unauthenticated'
  | 'permission-denied'
  | 'resource-exhausted'
  | 'unimplemented'
  | 'cancelled'
  | 'aborted'
  | 'internal';
